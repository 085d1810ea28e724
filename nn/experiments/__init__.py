"""The experiments from the study notes, on scikit-learn's bundled digits.

Each module has a function returning the numbers (tests run tiny versions),
a `table` that formats them as markdown and a `plot` that writes a PNG:

- vanishing: per-layer learning speed in deep sigmoid / tanh / ReLU MLPs.
- activations: the activation comparison table.
- relu_vs_tanh: epochs for a small CNN to reach a training error, ReLU vs tanh.

The example scripts in examples/ are thin command-line wrappers around them.
"""
