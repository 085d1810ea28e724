"""(e) memory: does memory stay flat over a long training loop?

Under tracemalloc (which sees numpy's buffers), run autograd-core's
784-256-10 MLP for 2,000 SGD steps at batch 64, and chain1k forward+backward
200 times. Memory is flat when the traced total at the end is within 5% of
the total at the first checkpoint (step 100, resp. 10), or within 64 KiB for
totals too small for a percentage to mean anything (interpreter free lists
move that much). The numpy floor runs the same loops as a control.
"""

from __future__ import annotations

import gc
import tracemalloc

import chain
import mlp
from harness import FLOOR

TOLERANCE, SLACK = 0.05, 64 * 1024


def trace(factory, steps: int, early: int) -> dict:
    factory()()  # imports happen here, outside the trace
    gc.collect()
    tracemalloc.start()
    try:
        step = factory()
        for i in range(1, steps + 1):
            step()
            if i == early:
                at_early = tracemalloc.get_traced_memory()[0]
        at_end, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    delta = at_end - at_early
    return {"steps": steps, "early_step": early, "early_bytes": at_early, "end_bytes": at_end,
            "peak_bytes": peak, "growth": delta / max(at_early, 1),
            "bytes_per_step": delta / (steps - early),
            "flat": abs(delta) <= max(TOLERANCE * at_early, SLACK),
            "gc_unreachable_after": gc.collect()}


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


def run(quick: bool) -> dict:
    loops = {
        "mlp 784-256-10 b64": (mlp.make_impls((784, 256, 10), 64), 500 if quick else 2000, 100),
        "chain1k fwd+bwd": (chain.cases(1000, 16)[0].impls, 200, 10),
    }
    print("Memory traced by tracemalloc (Python objects and numpy buffers):\n")
    print("| loop | engine | at checkpoint | at end | change | per step | peak | flat "
          "| cycles gc found after |")
    print("|---|---|---|---|---|---|---|---|---|")
    results = {}
    for loop, (impls, steps, early) in loops.items():
        for engine in [FLOOR + " (control)", "autograd-core"]:
            try:
                r = trace(impls[engine.removesuffix(" (control)")], steps, early)
            except Exception as e:  # not built yet (ImportError) or broken
                print(f"| {loop} | {engine} | {type(e).__name__}: {str(e)[:80]} | | | | | | |")
                continue
            results[f"{loop} / {engine}"] = r
            print(f"| {loop} | {engine} | step {early}: {_mib(r['early_bytes'])} "
                  f"| step {steps}: {_mib(r['end_bytes'])} | {r['growth']:+.1%} "
                  f"| {r['bytes_per_step']:+.0f} B "
                  f"| {_mib(r['peak_bytes'])} | {'yes' if r['flat'] else 'NO'} "
                  f"| {r['gc_unreachable_after']} |")
    return results
