"""A real, small, deterministic trainer for the tests: logistic regression by SGD on a synthetic
two-class problem, through examples/sgdr_trainer.py. Standard library only.

The data depend on a fixed seed (every trial sees the same data); the initial weights and the
batch order on the trial's training seed. Environment (all optional):
  TOY_LOG      a file: one JSON line per epoch {"trial", "epoch", "lr", "val_acc"} is appended
  TOY_PID_DIR  a folder: the process writes its pid into <dir>/<pid>
  TOY_SLEEP    seconds to sleep in every epoch (so that a test can catch trials running)
"""
import json
import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "examples"))
from sgdr_trainer import Session  # noqa: E402

FEATURES = 8


def make_data(rng, n):
    w_true = [1.0, -2.0, 0.5, 1.5, -1.0, 0.0, 0.25, -0.5]
    rows = []
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in range(FEATURES)]
        z = sum(a * b for a, b in zip(w_true, x)) + rng.gauss(0, 1.0)
        rows.append((x, 1 if z > 0 else 0))
    return rows


def main():
    session = Session()
    if os.environ.get("TOY_PID_DIR"):
        with open(os.path.join(os.environ["TOY_PID_DIR"], str(os.getpid())), "w") as f:
            f.write(session.trial)
    data_rng = random.Random(12345)
    train = make_data(data_rng, 256)
    val = make_data(data_rng, 200)
    rng = random.Random(session.seed)
    w = [rng.gauss(0, 0.5) for _ in range(FEATURES)]
    b = 0.0
    pause = float(os.environ.get("TOY_SLEEP", "0"))
    log = os.environ.get("TOY_LOG")
    for epoch, lr in session:
        order = list(range(len(train)))
        rng.shuffle(order)
        loss_sum = 0.0
        correct = 0
        for i in order:
            x, y = train[i]
            z = sum(a * c for a, c in zip(w, x)) + b
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
            loss_sum += -math.log(max(1e-12, p if y else 1 - p))
            correct += (p > 0.5) == bool(y)
            g = p - y
            w = [a - lr * g * c for a, c in zip(w, x)]
            b -= lr * g
        val_loss = 0.0
        val_correct = 0
        for x, y in val:
            z = sum(a * c for a, c in zip(w, x)) + b
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
            val_loss += -math.log(max(1e-12, p if y else 1 - p))
            val_correct += (p > 0.5) == bool(y)
        if pause:
            time.sleep(pause)
        val_acc = val_correct / len(val)
        print("epoch %d lr %.6f val_acc %.4f" % (epoch, lr, val_acc))  # goes to stderr (the client's redirect)
        if log:
            with open(log, "a") as f:
                f.write(json.dumps({"trial": session.trial, "epoch": epoch, "lr": lr, "val_acc": val_acc,
                                    "schedule": session.schedule}) + "\n")
        session.report(val_acc=val_acc, train_loss=loss_sum / len(train), val_loss=val_loss / len(val),
                       train_acc=correct / len(train), weight_norm=math.sqrt(sum(a * a for a in w)))


if __name__ == "__main__":
    main()
