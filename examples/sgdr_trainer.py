"""The trainer side of sgdr-search's protocol (docs/TRAINER-PROTOCOL.md), standard library only.

Copy this file next to your training script. Your loop becomes:

    from sgdr_trainer import Session

    session = Session()                  # reads the start message
    torch.manual_seed(session.seed)      # the trial's training seed (same for every configuration
                                         # of a repeat: common random numbers)
    for epoch, lr in session:            # one item per epoch; the tool computes the rate
        for group in optimizer.param_groups:
            group["lr"] = lr
        train_one_epoch(...)
        session.report(val_acc=..., train_loss=..., val_loss=..., train_acc=...)

The tool's schedule (SGDR with its trigger and compression, or a baseline) decides each rate from
the val_acc you report; the script only applies it. stdout belongs to the protocol: from the
moment a Session is made, print() and anything else written to stdout goes to stderr (your
log, which the tool keeps a tail of). When the tool goes away (it was killed), the session sees
its input close and exits the process, so no trainer is left behind.
"""

import json
import math
import os
import sys
import threading

PROTOCOL_VERSION = 1


class ProtocolError(Exception):
    pass


class Session:
    """One trial: the start message's fields as attributes, then `for epoch, lr in session`."""

    def __init__(self, stdin=None, stdout=None):
        if stdout is None:
            # Keep the real stdout for the protocol, and send everything else printed to stdout
            # (print, libraries' progress bars) to stderr.
            protocol_fd = os.dup(1)
            os.dup2(2, 1)
            sys.stdout = sys.stderr
            stdout = os.fdopen(protocol_fd, "w", buffering=1, encoding="utf-8")
        self._out = stdout
        self._in = stdin if stdin is not None else sys.stdin
        self._lines = []
        self._cond = threading.Condition()
        self._closed = False
        self._stopped = False
        self._expecting = None  # the epoch whose report is due
        self.stop_reason = None
        start = self._next()
        if start is None:
            raise SystemExit("sgdr_trainer: no start message on stdin (run this script through sgdr-search)")
        if start.get("type") != "start":
            raise ProtocolError("expected a start message, got %r" % (start,))
        if start.get("protocol") != PROTOCOL_VERSION:
            raise ProtocolError("sgdr-search speaks protocol %r; this client speaks %d"
                                % (start.get("protocol"), PROTOCOL_VERSION))
        self.start = start
        self.sweep = start["sweep"]
        self.trial = start["trial"]
        self.configuration = start["configuration"]
        self.repeat = start["repeat"]
        self.seed = start["seed"]
        self.epochs = start["epochs"]
        self.threads = start["threads"]
        self.schedule = start["schedule"]
        self.swept = start.get("swept", {})
        # From now on a reader thread waits on stdin, so that the process exits when the tool
        # goes away even in the middle of an epoch.
        reader = threading.Thread(target=self._read_forever, name="sgdr-trainer-input", daemon=True)
        reader.start()

    def _read_line(self):
        line = self._in.readline()
        if not line:
            return None
        return json.loads(line)

    def _next(self):
        if not hasattr(self, "start"):
            return self._read_line()  # the start message, before the reader thread exists
        with self._cond:
            while not self._lines and not self._closed:
                self._cond.wait()
            return self._lines.pop(0) if self._lines else None

    def _read_forever(self):
        while True:
            try:
                message = self._read_line()
            except ValueError:
                message = None
            with self._cond:
                if message is None:
                    self._closed = True
                    self._cond.notify_all()
                    if not self._stopped:
                        # The tool is gone without a stop: end now, children and all.
                        sys.stderr.write("sgdr_trainer: the tool closed the input; exiting\n")
                        sys.stderr.flush()
                        os._exit(3)
                    return
                if message.get("type") == "stop":
                    self._stopped = True
                self._lines.append(message)
                self._cond.notify_all()

    def __iter__(self):
        while True:
            if self._expecting is not None:
                raise ProtocolError("epoch %d was not reported: call session.report(val_acc=...) "
                                    "once per epoch" % self._expecting)
            message = self._next()
            if message is None:
                return
            kind = message.get("type")
            if kind == "stop":
                self.stop_reason = message.get("reason")
                return
            if kind != "epoch":
                raise ProtocolError("unexpected message %r" % (message,))
            self._expecting = message["epoch"]
            yield message["epoch"], message["lr"]

    def report(self, val_acc, train_loss=None, val_loss=None, train_acc=None, train_seconds=None, **extra):
        """The epoch's metrics: val_acc a fraction in [0, 1]. A non-finite loss reports the trial
        diverged (the tool then stops it). Other keyword arguments with numbers (top5_acc=...)
        are kept as the epoch's extra metrics."""
        if self._expecting is None:
            raise ProtocolError("report() outside an epoch: call it once inside `for epoch, lr in session`")
        answer = {"epoch": self._expecting}
        losses = [x for x in (train_loss, val_loss) if x is not None]
        if any(not math.isfinite(float(x)) for x in losses):
            answer["diverged"] = True
        else:
            val_acc = float(val_acc)
            if not (0.0 <= val_acc <= 1.0):
                raise ValueError("val_acc must be a fraction in [0, 1], got %r" % val_acc)
            answer["val_acc"] = val_acc
            for key, value in (("train_loss", train_loss), ("val_loss", val_loss),
                               ("train_acc", train_acc), ("train_seconds", train_seconds)):
                if value is not None:
                    answer[key] = float(value)
            for key, value in extra.items():
                if key in answer or key in ("epoch", "diverged"):
                    raise ValueError("report(): %r is not an extra metric name" % key)
                if value is not None and math.isfinite(float(value)):
                    answer[key] = float(value)
        self._out.write(json.dumps(answer, allow_nan=False) + "\n")
        self._out.flush()
        self._expecting = None


class KerasCallback:
    """The seed experiment was a Keras callback; this is the same schedule driven by the tool.

        session = Session()
        model.fit(x, y, epochs=session.epochs, validation_data=(xv, yv),
                  callbacks=[KerasCallback(session)], verbose=2)

    on_epoch_begin sets the optimizer's rate to the tool's; on_epoch_end reports the epoch's
    val_accuracy (and losses). Keras is not imported here: the callback only needs the model's
    `optimizer.learning_rate` to be assignable (Keras 2 and 3 both allow it).
    """

    def __init__(self, session):
        self.session = session
        self._epochs = iter(session)
        self.model = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        try:
            _, lr = next(self._epochs)
        except StopIteration:
            self.model.stop_training = True
            return
        self.model.optimizer.learning_rate = lr

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.session.report(val_acc=logs["val_accuracy"], train_loss=logs.get("loss"),
                            val_loss=logs.get("val_loss"), train_acc=logs.get("accuracy"))

    def __getattr__(self, name):
        # Keras calls many on_*_begin/end hooks (batches, tests, predictions): none matters here.
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)
