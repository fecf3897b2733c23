"""The cheapest trainer there is: it answers every epoch at once through examples/sgdr_trainer.py.
A trial of it measures what the protocol and the process handling cost per epoch (both sides:
the tool's JSON and pipes, and the client's)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from sgdr_trainer import Session  # noqa: E402

session = Session()
for epoch, lr in session:
    session.report(val_acc=0.5, train_loss=1.0)
