# Reference vectors for SplitMix64 and xoshiro256**, transcribed from the authors' C code
# (Vigna, https://prng.di.unimi.it/splitmix64.c and xoshiro256starstar.c), not from this project.
M = (1 << 64) - 1

def splitmix64(seed):
    x = seed
    while True:
        x = (x + 0x9E3779B97F4A7C15) & M
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        yield z ^ (z >> 31)

def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M

def xoshiro256ss(s):
    s = list(s)
    while True:
        result = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        yield result

if __name__ == "__main__":
    g = splitmix64(1234567)
    print("splitmix64(1234567):", [next(g) for _ in range(5)])
    for seed in [0, 42]:
        g = splitmix64(seed)
        state = [next(g) for _ in range(4)]
        x = xoshiro256ss(state)
        print(f"xoshiro256** seeded by splitmix64({seed}): state {state} outputs", [next(x) for _ in range(6)])
