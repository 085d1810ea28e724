"""The study-notes experiments return their numbers, tables and plots (tiny budgets)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from nn.experiments import activations, relu_vs_tanh, vanishing  # noqa: E402
from nn.experiments.data import load_digits  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_data_split_is_fixed_and_standardised():
    x, y, x_test, y_test = load_digits()
    assert x.shape == (1352, 64) and x_test.shape == (445, 64) and x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-5)
    assert load_digits(images=True)[0].shape == (1352, 1, 8, 8)
    x[...] = 0  # callers get copies: the cached arrays stay intact
    assert np.abs(load_digits()[0]).sum() > 0


def test_vanishing_structure(tmp_path):
    results = vanishing.run([("sigmoid", "default"), ("relu", "normal")], epochs=1,
                            widths=(64, 12, 12, 10))
    assert [r["activation"] for r in results] == ["sigmoid", "relu"]
    assert results[0]["speeds"].shape == (2, 2) and results[0]["layers"] == ["0", "2"]
    assert 0 <= results[0]["test_accuracy"] <= 1
    text = vanishing.table(results)
    assert text.startswith("| activation | init | when | h1/h2 | h2 speed |")
    assert vanishing.plot(results, tmp_path).exists()
    with pytest.raises(ValueError, match="init"):
        vanishing.train_one("relu", init="zeros", epochs=0)


def test_activations_structure(tmp_path):
    results = activations.run(["sigmoid", "relu", "gelu"], epochs=2, widths=(64, 16, 10),
                              threshold=0.5)
    keys = {"activation", "test_error", "train_loss", "epochs_to_threshold",
            "seconds_to_threshold", "seconds", "dead", "saturated", "history"}
    assert all(set(r) == keys for r in results)
    sig, relu, gelu = results
    assert sig["dead"] is None and 0 <= sig["saturated"] <= 1
    assert relu["saturated"] is None and 0 <= relu["dead"] <= 1
    assert gelu["dead"] is None and gelu["saturated"] is None
    assert relu["epochs_to_threshold"] in (1, 2)
    text = activations.table(results, threshold=0.5)
    assert "epochs to 50%" in text and "| relu |" in text and "soft/soft" in text
    assert activations.plot(results, tmp_path).exists()


def test_relu_vs_tanh_structure(tmp_path):
    results = relu_vs_tanh.run(seeds=[0], targets=(0.5, 0.0), max_epochs=1, eval_every=10)
    assert [r["activation"] for r in results] == ["relu", "tanh"]
    for r in results:
        assert r["epochs"][0.0] is None  # zero training error is not reached in one epoch
        assert r["epochs"][0.5] is not None and 0 < r["epochs"][0.5] <= 1
        assert r["curve"][0][0] == 0.0 and r["trained_epochs"] == pytest.approx(1.0)
    means = relu_vs_tanh.summarise(results)
    assert set(means) == {"relu", "tanh"} and means["relu"][0.0] is None
    text = relu_vs_tanh.table(results)
    assert "tanh / relu" in text and "epochs to 50% train error" in text
    assert relu_vs_tanh.plot(results, tmp_path).exists()


def test_example_script_is_a_thin_wrapper(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import relu_vs_tanh as script

    assert script.main(["--seeds", "0", "--targets", "0.5", "--max-epochs", "1",
                        "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| activation |" in out and (tmp_path / "relu_vs_tanh.png").exists()
    sys.modules.pop("relu_vs_tanh", None)


def test_accuracy_evaluates_in_eval_mode_and_restores_the_mode():
    import nn
    from nn.experiments.common import accuracy

    net = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.9))
    x, y = np.random.default_rng(0).standard_normal((50, 4)), np.arange(50) % 3
    first = accuracy(net, x, y)
    assert all(accuracy(net, x, y) == first for _ in range(5))  # no dropout noise
    assert net.training
    net.eval()
    accuracy(net, x, y)
    assert not net.training
