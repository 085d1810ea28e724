"""Profile autograd-core's hot path: chain1k forward + backward under pyinstrument.

    .bench-venv/bin/python benchmarks/profile_chain.py [--repeat N] [--n-ops N] [--html PATH]

Prints pyinstrument's call tree (time per function, sampled), or a cProfile
table when pyinstrument is not installed.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from chain import chain
from harness import load_ag


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=200, help="forward+backward passes (200)")
    p.add_argument("--n-ops", type=int, default=1000, help="ops in the chain (1000)")
    p.add_argument("--size", type=int, default=16, help="floats in the vector (16)")
    p.add_argument("--html", metavar="PATH", help="also write pyinstrument's HTML report")
    args = p.parse_args(argv)
    try:
        ag = load_ag()
    except ImportError as e:
        print(f"autograd-core is not importable: {e}")
        return 1
    x0 = np.random.default_rng(0).standard_normal(args.size).astype(np.float32)

    def work():
        for _ in range(args.repeat):
            x = ag.tensor(x0, requires_grad=True)
            chain(x, ag.tanh, args.n_ops).sum().backward()

    work()  # warm-up
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import pstats

        print("pyinstrument is not installed; cProfile instead")
        prof = cProfile.Profile()
        prof.runcall(work)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return 0
    profiler = Profiler(interval=0.0002)
    profiler.start()
    work()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        with open(args.html, "w") as f:
            f.write(profiler.output_html())
        print(f"saved {args.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
