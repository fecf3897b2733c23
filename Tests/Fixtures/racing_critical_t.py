# Critical values of the racing tests (Tests/SweepTests/RacingTests.swift), computed by scipy, not
# by this project. Racing eliminates a configuration when the one-sided paired t-test rejects
# "not worse than the leader" at `confidence`: with n pairs, when t = mean / (sd / sqrt(n)) of the
# differences (configuration - leader) is below -t.ppf(confidence, n - 1).
#
# It also decides the planted race of RacingTests.testRaceEliminatesTheBeatenAndKeepsTheClose
# by the rules written in Sources/Sweep/Racing.swift's documentation, with scipy's paired t-test:
# the scores below are what that test's PlantedExecutor (a fixture of the test, not code under
# test) gives each SGDR configuration's repeats (best_val_acc; None: diverged), printed from the
# test with 17 significant digits.
#
# Run with the pyenv python3 (scipy 1.17 when this was written):
#     python3 Tests/Fixtures/racing_critical_t.py
# and copy the printed rows into RacingTests.criticalT and the race's outcome into the test.
import scipy
from scipy.stats import t, ttest_rel

# (pairs, confidence): df 1 to 5, the default 0.95 and others.
CASES = [(2, 0.95), (3, 0.9), (4, 0.99), (5, 0.95), (6, 0.75)]

print(f"// scipy {scipy.__version__}: (pairs, confidence, t.ppf(confidence, pairs - 1))")
for pairs, confidence in CASES:
    print(f"({pairs}, {confidence}, {float(t.ppf(confidence, pairs - 1))!r}),")

PLANTED = {
    "sgdr-0000": [0.8137853724430224, 0.8025818949216743, 0.8013341145617717, 0.8173102237034793, 0.8185067430884471, 0.8021531713731112],
    "sgdr-0001": [0.8135940926885347, 0.8024794134867886, 0.8018434577539151, 0.8177008863611178, 0.8193468871813556, 0.8021554899468689],
    "sgdr-0002": [0.9127059364049561, None, 0.9022426004797656, 0.917923545165436, 0.9190877746626254, 0.9029935108722709],
    "sgdr-0003": [0.9144091156323799, None, 0.9028558010245332, 0.9182440287974777, 0.9183920946881455, 0.9028956353842876],
    "sgdr-0004": [0.8834563421944795, 0.8730794442915756, 0.8731837605821751, 0.887437004432853, 0.8887003739090016, 0.8736250519444385],
    "sgdr-0005": [0.8830425856055016, 0.8717683552172996, 0.8713406666052337, 0.8874545503187174, 0.8883917289127369, 0.8730422403268981],
    "sgdr-0006": [0.9123261966931813, 0.9018082464134531, 0.9025217815856178, 0.9167472221448747, 0.9183514550743356, 0.9029090352313941],
    "sgdr-0007": [0.9136670231116676, 0.9009500121719619, 0.9016557409836036, 0.9179032623333889, 0.9189124389469199, 0.9032590467508653],
    "sgdr-0008": [0.9143396161058635, 0.902090295174408, 0.9013216135800359, 0.9188474760178773, 0.9182142851549185, 0.9032667206241467],
    "sgdr-0009": [0.9135432148695044, 0.9025249621763962, 0.902303826009762, 0.9180675090187309, 0.9190847818826007, 0.9021843067068422],
}


def race(scores, repeats=6, first_round=2, confidence=0.95):
    """Round r: a configuration with a diverged repeat in 0...r is out; from round first_round - 1
    on, each other one is out when ttest_rel(it, leader, alternative="less") has p < 1 - confidence,
    the leader being the highest mean over repeats 0...r (ties: the first in dispatch order)."""
    alive, eliminated, closest = sorted(scores), {}, {}
    for r in range(repeats):
        for c in alive:
            if any(v is None for v in scores[c][:r + 1]):
                eliminated[c] = r + 1
        alive = [c for c in alive if c not in eliminated]
        if r + 1 < first_round or len(alive) < 2:
            continue
        mean = {c: sum(scores[c][:r + 1]) / (r + 1) for c in alive}
        leader = alive[0]
        for c in alive[1:]:
            if mean[c] > mean[leader]:
                leader = c
        for c in alive:
            if c == leader:
                continue
            p = ttest_rel(scores[c][:r + 1], scores[leader][:r + 1], alternative="less").pvalue
            closest[c] = min(closest.get(c, 1), abs(p - (1 - confidence)))
            if p < 1 - confidence:
                eliminated[c] = r + 1
        alive = [c for c in alive if c not in eliminated]
    return alive, eliminated, closest


alive, eliminated, closest = race(PLANTED)
print("// planted race: survivors", alive)
print("// eliminated (round):", dict(sorted(eliminated.items())))
print("// closest |p - 0.05| of each compared configuration:",
      {c: float(f"{v:.2g}") for c, v in sorted(closest.items())})
