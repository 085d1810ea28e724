"""The digits example trains quickly to a good accuracy (fixed seed)."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from nn.experiments import digits  # noqa: E402
from nn.experiments.data import load_digits  # noqa: E402


def test_mlp_reaches_90_percent_in_a_few_epochs():
    result = digits.train_digits("mlp", epochs=4, seed=0)
    assert result["test_accuracy"] >= 0.9
    assert len(result["history"]) == 4
    assert result["history"][-1]["loss"] < result["history"][0]["loss"]
    assert set(result["history"][0]) == {"epoch", "loss", "train_accuracy", "test_accuracy"}


def test_cnn_learns():
    result = digits.train_digits("cnn", epochs=2, seed=0)
    assert result["test_accuracy"] >= 0.8


def test_split_is_fixed_and_standardised():
    x_train, y_train, x_test, y_test = load_digits()
    assert len(x_train) + len(x_test) == 1797 and abs(len(x_test) / 1797 - 0.25) < 0.01
    assert abs(float(x_train.mean())) < 1e-5
    again = load_digits()
    assert (again[3] == y_test).all()
