"""The activation comparison table on digits.

    python examples/activations_table.py --epochs 20 --out out/

Trains the same 64-64-64-64-10 MLP (SGD, momentum 0.9) with each hidden
activation for a fixed number of epochs and prints a markdown table: test
error, final training loss, epochs and seconds to reach a training-accuracy
threshold, dead ReLU units and saturated sigmoid/tanh units at the end, and
the properties from nn.activation.describe. Writes activations.png (training
loss curves). The logic is in nn/experiments/activations.py.
"""

from __future__ import annotations

import argparse

from nn.experiments import activations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--activations", nargs="+", default=list(activations.NAMES))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--threshold", type=float, default=0.99,
                        help="training accuracy to reach (default 0.99)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    args = parser.parse_args(argv)
    results = activations.run(args.activations, epochs=args.epochs, lr=args.lr,
                              threshold=args.threshold, seed=args.seed)
    print(activations.table(results, args.threshold))
    print(f"\nplot: {activations.plot(results, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
