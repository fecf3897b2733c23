"""The seed experiment was a Keras callback; with sgdr-search the schedule comes from the tool.
This is how a Keras script plugs in (KerasCallback in sgdr_trainer.py):

    from sgdr_trainer import Session, KerasCallback

    session = Session()
    keras.utils.set_random_seed(session.seed % (1 << 31))
    model.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=session.epochs, batch_size=128,
              validation_data=(x_val, y_val), callbacks=[KerasCallback(session)], verbose=2)

Keras is not installed on the project's machines, so this file runs the same callback under a
minimal stand-in for `model.fit` (the calls Keras makes: set_model, on_train_begin, then per
epoch on_epoch_begin / on_epoch_end with the logs Keras passes) and a toy "model" whose
accuracy depends on the rates it was given. The tests run it through sgdr-search.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgdr_trainer import KerasCallback, Session  # noqa: E402


class Optimizer:
    learning_rate = 0.0


class StandInModel:
    """Only what KerasCallback touches: optimizer.learning_rate and stop_training."""

    def __init__(self):
        self.optimizer = Optimizer()
        self.stop_training = False
        self.progress = 0.0

    def fit(self, epochs, callbacks):
        for c in callbacks:
            c.set_model(self)
            c.on_train_begin()
        for epoch in range(epochs):
            for c in callbacks:
                c.on_epoch_begin(epoch)
            if self.stop_training:
                break
            lr = float(self.optimizer.learning_rate)
            self.progress += lr
            acc = 0.9 - 0.4 * math.exp(-self.progress * 10)
            logs = {"loss": 1 - acc, "accuracy": acc, "val_loss": 1.05 - acc, "val_accuracy": acc - 0.02}
            for c in callbacks:
                c.on_epoch_end(epoch, logs)
        for c in callbacks:
            c.on_train_end()


if __name__ == "__main__":
    session = Session()
    StandInModel().fit(epochs=session.epochs, callbacks=[KerasCallback(session)])
