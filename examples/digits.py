"""Handwritten digits (scikit-learn's bundled 8x8 images): an MLP and a small CNN.

    python examples/digits.py --model mlp --epochs 30
    python examples/digits.py --model cnn --epochs 15 --seed 1

No download: `sklearn.datasets.load_digits` ships with scikit-learn (1,797
images, 10 classes). Features are standardised with the training set's
statistics; the train/test split is fixed (stratified, 25% test) whatever
the seed, which only drives initialisation and shuffling. The training code
is `nn.experiments.digits.train_digits`.
"""

from __future__ import annotations

import argparse

from nn.experiments.digits import DEFAULTS, train_digits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(DEFAULTS), default="mlp")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: 30 for mlp, 15 for cnn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    result = train_digits(args.model, args.epochs, args.seed, not args.no_progress,
                          args.batch_size, args.lr)
    if args.no_progress:
        for row in result["history"]:
            print(f"epoch {row['epoch']:3d}  loss {row['loss']:.4f}  "
                  f"train {row['train_accuracy']:.3f}  test {row['test_accuracy']:.3f}")
    print(f"{args.model}: test accuracy {result['test_accuracy']:.4f} "
          f"({result['seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
