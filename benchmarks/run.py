"""Benchmark autograd-core against a hand-written numpy floor and competitors.

    .bench-venv/bin/python benchmarks/run.py [--quick] [--only NAME] [--repeat N]
        [--stat min|median|paired] [--settle SECONDS] [--json PATH]

NAME: chain1k, chain100k, mlp, cnn, attention, gpt, resnet, memory. See benchmarks/README.md.

Prints markdown tables of times as multiples of the numpy floor. Never asserts
on times; refuses only to time a floor whose gradients are wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import attention
import chain
import cnn
import gpt
import harness
import memory
import mlp
import resnet

WORKLOADS = {  # name -> (check the floor, cases(quick))
    "chain1k": (chain.check, lambda quick: chain.cases(1_000, 16)),
    "chain100k": (chain.check, lambda quick: chain.cases(100_000, 4)),
    "mlp": (mlp.check, mlp.cases),
    "cnn": (cnn.check, cnn.cases),
    "attention": (attention.check, attention.cases),
    "gpt": (None, gpt.cases),  # no floor: autograd-core against PyTorch
    "resnet": (None, resnet.cases),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats, shorter samples")
    p.add_argument("--only", choices=[*WORKLOADS, "memory"], action="append",
                   help="run only this workload (may be repeated)")
    p.add_argument("--repeat", type=int, help="timed samples per engine (default 7, quick 3)")
    p.add_argument("--stat", choices=["min", "median", "paired"], default="min",
                   help="statistic over the repeats (default min; paired: the median "
                        "of each repeat's ratio to the floor)")
    p.add_argument("--settle", type=float, default=0.2, metavar="SECONDS",
                   help="pause before each sample so other thread pools go idle (default 0.2)")
    p.add_argument("--json", metavar="PATH", help="also save all samples as JSON")
    args = p.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)
    target = 0.02 if args.quick else 0.1  # seconds per timed sample
    names = args.only or [*WORKLOADS, "memory"]

    threads = harness.blas_threads()
    env = harness.environment(threads, harness.setup_torch(threads))
    print("\n".join(f"- {line}" for line in env))
    print(f"- {repeat} interleaved samples per engine, each >= {target}s or one call, "
          f"after warm-up and a {args.settle}s pause; statistic: {args.stat}")
    print(f"- load average at start: {harness.load_average()}\n")
    if harness.busy():
        print("**The machine is busy (load average above 0.5): expect noisy numbers.**\n")

    rows, checks, saved = [], {}, {"environment": env, "stat": args.stat}
    for name in names:
        if name == "memory":
            continue
        check, cases = WORKLOADS[name]
        if check is not None and check not in checks:
            try:
                checks[check] = check()
            except harness.FloorError as e:
                checks[check] = e
            print(f"- {checks[check]}", flush=True)
        if isinstance(checks.get(check), harness.FloorError):
            print(f"**{name}: not timed, the floor is wrong**")
            continue
        for case in cases(args.quick):
            t0 = time.perf_counter()
            rows.append((case, harness.measure(case, repeat, target, args.settle)))
            print(f"  timed {case.name} in {time.perf_counter() - t0:.0f}s", flush=True)
    if rows:
        print("\nTime per step as a multiple of the numpy floor (floor: absolute):\n")
        print(harness.ratio_table(rows, args.stat))
        per_op = harness.per_op_table(rows, args.stat)
        if per_op:
            print("\n" + per_op)
        for note in harness.notes(rows):
            print(f"- {note}")
        saved["checks"] = [str(c) for c in checks.values()]
        saved["results"] = harness.to_json(rows)
    print(f"- load average at end: {harness.load_average()}")
    if "memory" in names:
        print()
        saved["memory"] = memory.run(args.quick)
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(saved, f, indent=1)
        print(f"\nsaved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
