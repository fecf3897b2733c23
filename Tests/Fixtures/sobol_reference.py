"""Reference points for Tests/SweepTests/SobolTests.swift: the first 16 points of the unscrambled
Sobol' sequence in 6 dimensions, from SciPy (scipy.stats.qmc.Sobol uses Joe & Kuo's
new-joe-kuo-6.21201 direction numbers, Gray-code order). Every coordinate is a multiple of 1/16,
so it is printed as an exact integer numerator over 16.

Run: python3 Tests/Fixtures/sobol_reference.py   (SciPy 1.17 gave the constants in the test)
"""
import scipy
from scipy.stats import qmc

points = qmc.Sobol(6, scramble=False).random(16)
print(f"// scipy {scipy.__version__}: qmc.Sobol(6, scramble=False).random(16) * 16")
print("static let scipyFirst16x16: [[Int]] = [")
for p in points:
    assert all((x * 16).is_integer() for x in p)
    print("    [" + ", ".join(str(int(x * 16)) for x in p) + "],")
print("]")

# Deeper points, to check the direction-number recurrence (index bits beyond each dimension's
# initial m_1 ... m_s): point n, times 2^30 (SciPy's default 30 bits; exact integers).
import warnings
warnings.filterwarnings("ignore")  # "balance properties ... not a power of 2" is not the point here
indices = [100, 255, 256, 1000, 4095, 65535, 100000, 999999]
print(f"// scipy {scipy.__version__}: point n of qmc.Sobol(6, scramble=False) (fast_forward(n)) * 2^30")
print("static let scipyDeep: [(index: Int, x: [Int])] = [")
for n in indices:
    s = qmc.Sobol(6, scramble=False)
    s.fast_forward(n)
    p = s.random(1)[0]
    assert all((x * 2**30).is_integer() for x in p)
    print(f"    ({n}, [" + ", ".join(str(int(x * 2**30)) for x in p) + "]),")
print("]")
