"""ReLU vs tanh: epochs for a small CNN to reach a training error on digits.

    python examples/relu_vs_tanh.py --seeds 0 1 2 3 4 --out out/

Conv2d-ReLU/Tanh-MaxPool-Linear trained with SGD + momentum; the training
error on the whole training set is measured after every mini-batch, so the
answer is in fractions of an epoch. Prints a markdown table averaged over the
seeds (the notes quote ~6x faster for ReLU, Krizhevsky et al. on CIFAR-10) and
writes relu_vs_tanh.png. The logic is in nn/experiments/relu_vs_tanh.py.
"""

from __future__ import annotations

import argparse

from nn.experiments import relu_vs_tanh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--targets", type=float, nargs="+", default=list(relu_vs_tanh.TARGETS),
                        help="training errors to reach (default 0.25 0.1 0.05 0.02)")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--out", default="out", help="directory for the PNG (default out/)")
    args = parser.parse_args(argv)
    results = relu_vs_tanh.run(args.seeds, targets=args.targets, lr=args.lr,
                               max_epochs=args.max_epochs)
    print(relu_vs_tanh.table(results))
    print(f"\nplot: {relu_vs_tanh.plot(results, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
