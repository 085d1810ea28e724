"""Vanishing gradients: per-layer learning speed of a deep sigmoid MLP on digits.

    python examples/vanishing_gradients.py --epochs 30 --out out/

Trains 64-30-30-30-30-10 MLPs with plain SGD (sigmoid, tanh and ReLU with
PyTorch's default init, and sigmoid with Nielsen's N(0, 1) init) and measures
each hidden layer's bias-gradient norm on the full training set after every
epoch. Prints a markdown table of each layer's speed relative to the last
hidden layer and writes vanishing_gradients.png. The logic is in
nn/experiments/vanishing.py.
"""

from __future__ import annotations

import argparse

from nn.experiments import vanishing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    args = parser.parse_args(argv)
    results = vanishing.run(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                            seed=args.seed)
    print("Learning speed |dL/db| of each hidden layer relative to the last hidden layer "
          "(h4); 'training' is the geometric mean over the epochs.\n")
    print(vanishing.table(results))
    print(f"\nplot: {vanishing.plot(results, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
