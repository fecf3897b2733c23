"""A PyTorch trainer for sgdr-search: the built-in models (MLP 784-256-128-10, or the CNN
conv 32-64 + 128) on the same Fashion-MNIST IDX files the engine reads, trained by SGD with
momentum and weight decay at the rate sgdr-search tells it each epoch.

Run it through a space file (see search-spaces/pytorch-mlp.json):

    "trainer": {"command": ["python3", "examples/pytorch_fashion_mnist.py", "--model", "mlp"], "epochs": 10}

Options mirror the built-in `training` keys: --model, --data-dir, --train-size, --val-size,
--batch-size, --momentum, --weight-decay. The split is the engine's: the first train_size images
of the training file for training, its last val_size for validation; pixels / 255.
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgdr_trainer import Session  # noqa: E402


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def model(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--train-size", type=int, default=50000)
    parser.add_argument("--val-size", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    args = parser.parse_args()

    session = Session()
    torch.set_num_threads(session.threads)
    torch.manual_seed(session.seed % (1 << 63))
    images = read_idx(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(args.data_dir, "train-labels-idx1-ubyte.gz"))
    if args.train_size + args.val_size > len(images):
        sys.exit("--train-size + --val-size exceed the %d training images" % len(images))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    x_train, y_train = x[:args.train_size], y[:args.train_size]
    x_val, y_val = x[len(x) - args.val_size:], y[len(y) - args.val_size:]

    net = model(args.model)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0, momentum=args.momentum, weight_decay=args.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(session.seed % (1 << 63))

    for epoch, lr in session:
        for group in optimizer.param_groups:
            group["lr"] = lr
        start = time.perf_counter()
        net.train()
        order = torch.randperm(len(x_train), generator=shuffle)
        loss_sum, correct = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            optimizer.zero_grad(set_to_none=True)
            logits = net(x_train[batch])
            loss = loss_fn(logits, y_train[batch])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
            correct += (logits.argmax(1) == y_train[batch]).sum().item()
        train_seconds = time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            val_loss, val_correct = 0.0, 0
            for i in range(0, len(x_val), 1000):
                logits = net(x_val[i:i + 1000])
                val_loss += loss_fn(logits, y_val[i:i + 1000]).item() * len(logits)
                val_correct += (logits.argmax(1) == y_val[i:i + 1000]).sum().item()
        print("%s epoch %d lr %.5f val_acc %.4f" % (session.trial, epoch, lr, val_correct / len(x_val)))
        session.report(val_acc=val_correct / len(x_val), train_loss=loss_sum / len(x_train),
                       train_acc=correct / len(x_train), val_loss=val_loss / len(x_val),
                       train_seconds=train_seconds)


if __name__ == "__main__":
    main()
