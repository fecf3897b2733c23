"""Reference values of TPETests (Tests/SweepTests/TPETests.swift), computed with SciPy
(scipy.stats.truncnorm), independently of the Swift code: the Parzen estimator of
Sources/Sweep/TPE.swift as the README defines it (prior N(0.5, 1) plus one kernel per observation,
equal weights, truncated to [0, 1]; a kernel's sd the larger distance to its sorted neighbours,
the prior's 0.5 included and 0 and 1 the outer ones, clipped to [1/min(100, n + 2), 1]),
the categorical estimator and the coordinate maps.

    python3 Tests/Fixtures/tpe_reference.py
"""
import math
import numpy as np
from scipy.stats import truncnorm


def sds(obs):
    n = len(obs)
    pts = sorted(list(obs) + [0.5])
    lo = 1 / min(100, n + 2)
    out = []
    for x in obs:
        i = pts.index(x)
        left = pts[i - 1] if i > 0 else 0.0
        right = pts[i + 1] if i + 1 < len(pts) else 1.0
        out.append(min(1.0, max(lo, max(x - left, right - x))))
    return out


def logpdf(obs, x):
    means = [0.5] + list(obs)
    s = [1.0] + sds(obs)
    total = 0.0
    for m, sd in zip(means, s):
        a, b = (0 - m) / sd, (1 - m) / sd
        total += truncnorm.pdf(x, a, b, loc=m, scale=sd)
    return math.log(total / len(means))


obs = [0.1, 0.35, 0.4, 0.9]
print("sds", [round(v, 15) for v in sds(obs)])
for x in [0.0, 0.2, 0.37, 0.75, 1.0]:
    print(f"logpdf({x}) = {logpdf(obs, x):.15f}")
print(f"empty: logpdf(0.3) = {logpdf([], 0.3):.15f}")

# Categorical: observations [0, 2, 2] of 3 items, prior weight 1 spread evenly.
counts = np.array([1, 0, 2]) + 1 / 3
print("categorical", list(counts / 4))

# Coordinates: int t0 in [1, 4] at 3 (cell middle); lr_max in [0.05, 0.5] log at 0.2; linear 0.3 in [0, 0.8].
print("int", (3 - 1 + 0.5) / 4)
print("log", (math.log(0.2) - math.log(0.05)) / (math.log(0.5) - math.log(0.05)))
print("linear", 0.3 / 0.8)

# The mixture's mass in [0, 0.5] (what TPETests checks 4000 draws against).
means = [0.5] + obs
mass = sum(truncnorm.cdf(0.5, (0 - m) / s, (1 - m) / s, loc=m, scale=s) for m, s in zip(means, [1.0] + sds(obs))) / 5
print(f"mass below 0.5 = {mass:.4f}")
