# Reference numbers for Tests/EngineTests/TorchReferenceTests.swift, computed by PyTorch (not by
# this project): the engine's CNN rebuilt with torch.nn, a forward pass, the gradient of the mean
# cross-entropy, and two SGD steps (so that momentum counts) with and without Nesterov.
#
# Regenerate: /usr/bin/python3 Tests/Fixtures/torch_cnn_reference.py
# (Debian's python3-torch: torch 1.13.0a0 when this was written), then paste everything it prints
# between the "BEGIN generated" and "END generated" lines of TorchReferenceTests.swift (the test
# never runs Python).
#
# The network (Sources/Engine/CNN.swift): input 3 x 20 x 20 (bytes / 255); per conv width a 3x3
# convolution (zero padding 1, bias) + ReLU + 2x2 max-pool (floor: odd sides drop their last row
# and column) for widths 4, 5, 6 (20 -> 10 -> 5 -> 2); flatten in PyTorch's order (channels,
# rows, columns); Linear 24 -> 7, ReLU, Linear 7 -> 10; mean cross-entropy. The first conv has 3
# input channels (the engine's im2col path), the second and third have >= 4 (the engine's
# Winograd F(4x4, 3x3) path, the third after another Winograd block).
#
# No initialiser is involved: every parameter tensor k (in the engine's flat order: conv1.w,
# conv1.b, conv2.w, ..., fc2.b; PyTorch's layouts) holds, at flat index j,
#     3 * ((j * 7919 + k * 3571) % 199 - 99) / 99 / sqrt(fan_in)        (rounded to float32)
# (three times PyTorch's default bound, so that few units are dead and the images' logits differ)
# and pixel i (of the batch's 4 x 3 x 20 x 20 bytes, image-major) is ((i * 2654435761) % 2^32) >> 24.
# Labels 3, 0, 9, 5.
#
# Everything is computed in float64 from those float32 values, so the reference is the exact
# answer up to float64 rounding, and the engine (float32) is compared with tolerances for float32
# arithmetic. SGD: lr 0.01, momentum 0.9, dampening 0, weight_decay 5e-4: PyTorch's
# d = g + wd * p; buf = d (first step), buf = mu * buf + d (later); p -= lr * (buf, or
# d + mu * buf with Nesterov), which is what Sources/Engine/Optimizer.swift does (weight decay on
# biases too). Both steps are on the same batch.
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

CHANNELS, SIDE, CONV, HIDDEN, CLASSES, BATCH = 3, 20, [4, 5, 6], [7], 10, 4
LABELS = [3, 0, 9, 5]
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4


def build():
    layers, c, s = [], CHANNELS, SIDE
    for width in CONV:
        layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c, s = width, s // 2
    sizes = [c * s * s] + HIDDEN + [CLASSES]
    layers.append(nn.Flatten())
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers).double()
    with torch.no_grad():
        for k, p in enumerate(model.parameters()):
            # fan_in of the layer the tensor belongs to (a bias shares its weight's).
            weight = p if p.dim() > 1 else list(model.parameters())[k - 1]
            fan_in = int(np.prod(weight.shape[1:]))
            values = [3 * ((j * 7919 + k * 3571) % 199 - 99) / 99 / math.sqrt(fan_in) for j in range(p.numel())]
            p.copy_(torch.tensor(np.array(values, dtype=np.float32).astype(np.float64)).reshape(p.shape))
    return model


def batch():
    n = BATCH * CHANNELS * SIDE * SIDE
    pixels = np.array([((i * 2654435761) % 2**32) >> 24 for i in range(n)], dtype=np.float32)
    # The engine: Float(byte) * (1 / 255 as a float).
    x = pixels * (np.float32(1) / np.float32(255))
    return torch.tensor(x.astype(np.float64)).reshape(BATCH, CHANNELS, SIDE, SIDE), torch.tensor(LABELS)


def flat(t):
    return torch.cat([p.detach().reshape(-1) for p in t])


def swift(name, values):
    print(f"    static let {name}: [Double] = [")
    values = [float(v) for v in values]
    for i in range(0, len(values), 4):
        print("        " + ", ".join(repr(v) for v in values[i:i + 4]) + ",")
    print("    ]")


x, y = batch()
model = build()
params = list(model.parameters())
sizes = [p.numel() for p in params]
offsets = np.cumsum([0] + sizes)
# Sampled entries: first, middle and last of every tensor, and every 29th.
sample = sorted({int(offsets[k] + j) for k in range(len(sizes)) for j in (0, sizes[k] // 2, sizes[k] - 1)}
                | set(range(0, int(offsets[-1]), 29)))

# Margins: how far a forward pass is from a kink (a ReLU input at 0, a tie at the top of a
# pooling window), which float32 rounding (~1e-6 here) must not cross for the engine to take the
# same branch as the reference. Taken over every forward pass below.
margins = [math.inf, math.inf]


def measure(model):
    with torch.no_grad():
        h = x
        for layer in model:
            if isinstance(layer, nn.ReLU):
                margins[0] = min(margins[0], h.abs().min().item())
            if isinstance(layer, nn.MaxPool2d):
                n, c, hh, ww = h.shape
                win = h[:, :, :hh // 2 * 2, :ww // 2 * 2].reshape(n, c, hh // 2, 2, ww // 2, 2)
                top = win.permute(0, 1, 2, 4, 3, 5).reshape(-1, 4).topk(2, dim=1).values
                positive = top[:, 0] > 0
                margins[1] = min(margins[1], (top[positive, 0] - top[positive, 1]).min().item())
            h = layer(h)


measure(model)
logits = model(x)
loss = F.cross_entropy(logits, y)
loss.backward()
gradient = flat([p.grad for p in params])

results = {}
for nesterov in (False, True):
    m = build()
    opt = torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM, dampening=0, weight_decay=WEIGHT_DECAY,
                          nesterov=nesterov)
    after, losses = [], []
    for step in range(2):
        opt.zero_grad()
        measure(m)
        step_loss = F.cross_entropy(m(x), y)
        losses.append(step_loss.item())
        step_loss.backward()
        opt.step()
        after.append(flat(m.parameters()))
    measure(m)
    with torch.no_grad():
        final_logits = m(x)
    results[nesterov] = (after, losses, final_logits)

print(f"    // Generated by Tests/Fixtures/torch_cnn_reference.py (torch {torch.__version__}, float64).")
print(f"    // Over every forward pass: smallest |ReLU input| {margins[0]:.3g}; smallest gap between a")
print(f"    // pooling window's positive maximum and its runner-up {margins[1]:.3g}.")
print(f"    static let parameterCount = {int(offsets[-1])}")
print("    static let sample: [Int] = [")
for i in range(0, len(sample), 15):
    print("        " + ", ".join(str(v) for v in sample[i:i + 15]) + ",")
print("    ]")
swift("logits", logits.detach().reshape(-1).tolist())
print(f"    static let loss = {loss.item()!r}")
swift("gradient", gradient[sample].tolist())
for nesterov, name in ((False, "sgd"), (True, "nesterov")):
    after, losses, final_logits = results[nesterov]
    print(f"    static let {name}Losses: [Double] = {losses!r}")
    swift(f"{name}AfterStep1", after[0][sample].tolist())
    swift(f"{name}AfterStep2", after[1][sample].tolist())
    swift(f"{name}FinalLogits", final_logits.reshape(-1).tolist())
