"""A trainer that misbehaves in one chosen way, speaking the protocol by hand (no client), for
the fault tests. Usage: faulty_trainer.py MODE [ARG]. Every answer it gives when it behaves is
{"epoch": k, "val_acc": 0.5 + k / 100}.
"""
import json
import os
import signal
import subprocess
import sys
import time

mode = sys.argv[1]
arg = sys.argv[2] if len(sys.argv) > 2 else None


def out(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def answer(k):
    out(json.dumps({"epoch": k, "val_acc": 0.5 + k / 100}) + "\n")


start = json.loads(sys.stdin.readline())
if mode == "grandchild":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(arg, "w") as f:
        f.write(str(child.pid))
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "stop":
        if mode == "badexit":
            sys.stderr.write("failing at the end on purpose\n")
            sys.exit(2)
        if mode == "noexit":
            time.sleep(600)
        sys.exit(0)
    k = message["epoch"]
    if mode == "failone" and start["configuration"] == arg:
        sys.stderr.write("this configuration fails on purpose\n")
        sys.exit(1)
    if mode == "exit1":
        sys.stderr.write("Traceback (most recent call last):\nZeroDivisionError: division by zero\n")
        sys.exit(1)
    if mode == "exit_at" and k == int(arg):
        sys.exit(0)
    if mode == "signal" and k == 2:
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode == "hang" and k == 2:
        time.sleep(600)
    if mode == "slow":
        time.sleep(float(arg))
    if mode == "notjson":
        out("epoch %d done\n" % k)
        continue
    if mode == "notobject":
        out("[1, 2]\n")
        continue
    if mode == "noacc":
        out(json.dumps({"epoch": k, "train_loss": 0.3}) + "\n")
        continue
    if mode == "percent":
        out(json.dumps({"epoch": k, "val_acc": 85.0}) + "\n")
        continue
    if mode == "stringacc":
        out(json.dumps({"epoch": k, "val_acc": "0.85"}) + "\n")
        continue
    if mode == "badepoch":
        out(json.dumps({"epoch": k + 1, "val_acc": 0.6}) + "\n")
        continue
    if mode == "repeat" and k == 1:
        answer(1)
        answer(1)
        continue
    if mode == "flood":
        out("x" * (3 << 20))
        continue
    if mode == "stderrflood":
        chunk = "noise " * 1000 + "\n"
        for _ in range(2000):
            sys.stderr.write(chunk)
        sys.stderr.write("last words\n")
    if mode == "diverge" and k == 2:
        out(json.dumps({"epoch": k, "diverged": True}) + "\n")
        continue
    if mode == "extra":
        out(json.dumps({"epoch": k, "val_acc": 0.5, "top5_acc": 0.9 + k / 1000, "note": "not a number", "lr_seen": message["lr"]}) + "\n")
        continue
    if mode == "env":
        out(json.dumps({"epoch": k, "val_acc": 0.5, "train_loss": float(os.environ.get("OMP_NUM_THREADS", "0")),
                        "val_loss": float(os.environ.get("FAULTY_EXTRA", "0")),
                        "train_acc": 1.0 if os.getcwd() == arg else 0.0}) + "\n")
        continue
    answer(k)
