#!/usr/bin/env python3
"""CPU PyTorch baseline for pdecon's restoration networks (pdecon bench -bench_model).

Defines SRCNN 9-1-5 (valid convolutions), Isonet-1 and Isonet-2 (same padding, residual output) as
pdecon builds them, and times on the CPU:
  - a training step: forward, MSE loss, backward, Adam step (lr 1e-4), batch B of S x S patches;
  - inference under no_grad: a batch of B S x S images, and one 512 x 512 image.
Each figure is the median time per call over at least --min-time seconds, best of --repeats.
Prints one line "TORCH model M threads T train SAMPLES/S infer_batch MPIX/S infer_512 MPIX/S"
(Mpix: output pixels) and, with --verbose, a readable summary.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn


class SRCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 64, 9)
        self.c2 = nn.Conv2d(64, 32, 1)
        self.c3 = nn.Conv2d(32, 1, 5)

    def forward(self, x):
        return self.c3(torch.relu(self.c2(torch.relu(self.c1(x)))))


class Isonet1(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 64, 9, padding=4)
        self.c2 = nn.Conv2d(64, 32, 5, padding=2)
        self.c3 = nn.Conv2d(32, 1, 5, padding=2)
        self.out = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        r = torch.relu(self.c3(torch.relu(self.c2(torch.relu(self.c1(x))))))
        return x + self.out(r)


class Isonet2(nn.Module):
    def __init__(self):
        super().__init__()
        self.e1 = nn.Conv2d(1, 16, 7, padding=3)
        self.e2 = nn.Conv2d(16, 32, 7, padding=3)
        self.b = nn.Conv2d(32, 64, 7, padding=3)
        self.d2 = nn.Conv2d(96, 32, 7, padding=3)
        self.d1 = nn.Conv2d(48, 16, 7, padding=3)
        self.out = nn.Conv2d(16, 1, 1)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        e1 = torch.relu(self.e1(x))
        e2 = torch.relu(self.e2(self.pool(e1)))
        b = torch.relu(self.b(self.pool(e2)))
        d2 = torch.relu(self.d2(torch.cat([self.up(b), e2], 1)))
        d1 = torch.relu(self.d1(torch.cat([self.up(d2), e1], 1)))
        return x + self.out(d1)


MODELS = {"srcnn": SRCNN, "isonet1": Isonet1, "isonet2": Isonet2}


def median_time(fn, min_time, repeats):
    best = float("inf")
    for _ in range(repeats):
        fn()  # warm-up
        times, start = [], time.perf_counter()
        while time.perf_counter() - start < min_time or len(times) < 3:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        best = min(best, statistics.median(times))
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(MODELS), default="isonet1")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--min-time", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = MODELS[a.model]()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.rand(a.batch, 1, a.size, a.size)
    with torch.no_grad():
        y = torch.rand_like(net(x))
    loss_fn = nn.MSELoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()

    t_train = median_time(step, a.min_time, a.repeats)
    big = torch.rand(1, 1, 512, 512)
    with torch.no_grad():
        out_b = net(x).shape[-1] ** 2 * a.batch
        out_1 = net(big).shape[-1] ** 2
        t_inf = median_time(lambda: net(x), a.min_time, a.repeats)
        t_big = median_time(lambda: net(big), a.min_time, a.repeats)
    print("TORCH model %s threads %d train %.3f infer_batch %.4f infer_512 %.4f"
          % (a.model, a.threads, a.batch / t_train, out_b / t_inf / 1e6, out_1 / t_big / 1e6))
    if a.verbose:
        print("torch %s, %d threads: train %.1f samples/s (batch %d of %d^2), inference %.3f Mpix/s "
              "(batch), %.3f Mpix/s (512^2)" % (torch.__version__, a.threads, a.batch / t_train, a.batch,
                                               a.size, out_b / t_inf / 1e6, out_1 / t_big / 1e6))


if __name__ == "__main__":
    main()
