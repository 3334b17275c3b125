#!/usr/bin/env python3
"""The reference step ``ref-step-v1`` (see ``src/ref-step.ts``) in PyTorch, for comparison with
``pnpm bench:step``. Not a project dependency: install PyTorch yourself, e.g. on Debian
``apt-get install python3-torch`` and run this with ``/usr/bin/python3``.

Same architecture, loss, optimiser and FLOPs (2.348 GFLOP per step at batch 16, 64x64); the
layout is PyTorch's NCHW. The input image needs no gradient, so the first conv computes no input
gradient, as in the tfjs step.

Usage::

    /usr/bin/python3 bench/step_torch.py                 # table for 1 and 2 threads
    /usr/bin/python3 bench/step_torch.py --threads 2 --json   # one JSON line per thread count
"""

import argparse
import json
import math
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    sys.exit('step_torch.py: PyTorch is not installed (Debian: apt-get install python3-torch; '
             'then run with /usr/bin/python3)')

MODEL = 'ref-step-v1'
SEG_CLASSES = 13
ENCODER = [(3, 32, 2), (32, 64, 2), (64, 64, 1), (64, 64, 1)]
FEATURES = 64
HEADS = [SEG_CLASSES, 1, 3]


def step_flops(batch, size):
    forward, first, side = 0, 0, size
    for cin, cout, stride in ENCODER:
        side //= stride
        flops = 2 * batch * side * side * cout * cin * 9
        if forward == 0:
            first = flops
        forward += flops
    forward += 2 * batch * side * side * FEATURES * sum(HEADS)
    return forward + 2 * forward - first


def build(batch, size, seed):
    g = torch.Generator().manual_seed(seed)
    params = []
    for cin, cout, _ in ENCODER:
        w = torch.randn(cout, cin, 3, 3, generator=g) * math.sqrt(2 / (9 * cin))
        params += [w.requires_grad_(), torch.zeros(cout, requires_grad=True)]
    for cout in HEADS:
        w = torch.randn(cout, FEATURES, 1, 1, generator=g) * math.sqrt(2 / FEATURES)
        params += [w.requires_grad_(), torch.zeros(cout, requires_grad=True)]
    side = size // 4
    x = torch.randn(batch, 3, size, size, generator=g)
    seg = torch.randint(0, SEG_CLASSES, (batch, side, side), generator=g)
    depth = torch.randn(batch, 1, side, side, generator=g)
    normals = F.normalize(torch.randn(batch, 3, side, side, generator=g), dim=1)
    return params, (x, seg, depth, normals)


def loss_fn(params, data):
    x, seg, depth, normals = data
    h = x
    for i, (_, _, stride) in enumerate(ENCODER):
        h = F.relu(F.conv2d(h, params[2 * i], params[2 * i + 1], stride=stride, padding=1))
    k = 2 * len(ENCODER)
    out_seg = F.conv2d(h, params[k], params[k + 1])
    out_depth = F.conv2d(h, params[k + 2], params[k + 3])
    out_normals = F.conv2d(h, params[k + 4], params[k + 5])
    ce = F.cross_entropy(out_seg, seg)
    l1 = (out_depth - depth).abs().mean()
    norm = torch.sqrt((out_normals * out_normals).sum(1) + 1e-12)
    cosine = 1 - ((out_normals * normals).sum(1) / norm).mean()
    return ce + l1 + cosine


def run(threads, batch, size, seed, steps, warmup, lr):
    torch.set_num_threads(threads)
    params, data = build(batch, size, seed)
    opt = torch.optim.SGD(params, lr=lr)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(params, data)
        loss.backward()
        opt.step()
        return loss.item()  # synchronises (a no-op on cpu, kept for symmetry)

    for _ in range(warmup):
        step()
    times, loss = [], float('nan')
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    return {
        'backend': 'torch',
        'threads': torch.get_num_threads(),
        'model': MODEL if (batch, size) == (16, 64) else f'{MODEL}/batch{batch}x{size}',
        'msPerStepMedian': round(ms, 2),
        'gflops': round(step_flops(batch, size) / 1e9 / (ms / 1000), 2),
        'steps': steps,
        'lastLoss': loss,
        'torch': torch.__version__,
    }


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--threads', type=int, nargs='+', default=[1, 2], help='thread counts (default: 1 2)')
    p.add_argument('--steps', type=int, default=30)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--size', type=int, default=64)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', action='store_true', help='one JSON line per thread count')
    args = p.parse_args(argv)
    if any(t < 1 for t in args.threads) or args.steps < 1 or args.warmup < 0 or args.batch < 1 \
            or args.size < 4 or args.size % 4:
        p.error('threads, steps and batch must be >= 1, warmup >= 0, size a multiple of 4')
    for threads in args.threads:
        r = run(threads, args.batch, args.size, args.seed, args.steps, args.warmup, 0.01)
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            print(f"torch {r['torch']}  threads {r['threads']}  {r['model']}  "
                  f"{r['msPerStepMedian']:.1f} ms/step (median of {r['steps']})  "
                  f"{r['gflops']:.1f} GFLOP/s  loss {r['lastLoss']:.4f}", flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
