"""The GPU check (benchmarks/gpu_check.py) without a GPU: its device logic runs on
the array-api-strict stand-in, its floors are checked on numpy, and on a machine
without CuPy `--device cuda` skips cleanly."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import numpy as np
import pytest

import autograd_core as ag

pytest.importorskip("array_api_strict")
ROOT = pathlib.Path(__file__).resolve().parents[1]
STRICT = "array_api_strict:device1"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gc = _load()


def test_parity_training_and_sync_pass_on_the_stand_in(tmp_path):
    out = tmp_path / "report.md"
    rc = gc.main(["--device", STRICT, "--parity", "--training", "--sync", "--out", str(out),
                  "--ops", "exp,matmul,conv2d,cross_entropy,linalg_solve,take_along_axis"])
    assert rc == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert [r["status"] for r in report["training"]["rows"]] == ["ok"] * 3
    assert [r["status"] for r in report["sync"]["rows"]] == ["ok"] * 3
    assert {r["dtype"] for r in report["parity"]["rows"]} == {"float64", "float32"}
    assert report["parity"]["failed"] == [] and report["parity"]["unreached"] == []
    assert "speed" not in report  # CuPy only
    text = out.read_text()
    assert "## Training" in text and "## Sync" in text and "## Parity" in text


def test_a_wrong_result_fails_parity(monkeypatch):
    dev = gc.Device(STRICT)
    real = dev.put
    monkeypatch.setattr(dev, "put", lambda a: real(a * 1.01 if a.dtype.kind == "f" else a))
    result = gc.parity(dev, ["exp"], deadline=float("inf"))
    assert not result["ok"] and result["failed"]


def test_a_host_read_fails_the_sync_part(monkeypatch):
    dev = gc.Device(STRICT)
    original = gc.Classifier.step

    def step(self, i=0):
        loss = original(self, i)
        bool(loss.data > 0)  # a hidden host read
        return loss
    monkeypatch.setattr(gc.Classifier, "step", step)
    rows = gc.sync_check(dev, quick=True)["rows"]
    assert [r["status"] for r in rows] == ["FAIL", "FAIL", "ok"]
    assert "__bool__" in rows[0]["detail"]


def test_the_time_budget_lists_what_parity_did_not_reach():
    result = gc.parity(gc.Device(STRICT), ["exp", "log"], deadline=0.0)
    assert result["unreached"] == ["exp", "log"] and not result["ok"]


def test_the_mlp_floor_equals_the_engine_on_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 12)).astype(np.float32)
    y = rng.integers(0, 10, 6)
    trainer = gc.Classifier(lambda: gc._mlp((12, 16, 8, 10)), [(x, y)], None, momentum=0)
    floor = gc.FloorMLP(np, [np.asarray(p.data) for p in trainer.parameters()], 0.01)
    for _ in range(3):
        np.testing.assert_allclose(float(floor.step(x, y)), float(trainer.step().data),
                                   rtol=1e-5)
    for p, q in zip(floor.params, trainer.parameters()):
        np.testing.assert_allclose(p, q.data, rtol=1e-5, atol=1e-6)


# float32 at rtol 1e-5 (measured: <= 2e-7 on losses), float64 at 1e-12 (measured ~2e-16)
DTYPES = {"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-14)}  # rtol, atol of the scale


def _cast(dtype):
    return lambda a: a.astype(dtype) if a.dtype.kind == "f" else a


def _recording(record, update, at):
    """update, recording the gradient (its argument `at`) of each call into `record`."""
    def wrapped(*args):
        record.append(np.array(args[at]))
        return update(*args)
    return wrapped


def _close(got, want, dtype):
    rtol, atol = DTYPES[dtype]
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)


def _equal_runs(trainer, floor, batches, record, engine_grads, dtype, steps=3):
    """Losses, the first step's gradients and the final parameters of floor == trainer."""
    for i in range(steps):
        record.clear()
        _close(float(floor.step(*batches[i])), float(trainer.step(i).data), dtype)
        if i == 0:
            want = engine_grads()
            assert len(record) == len(want)
            for g, w in zip(record, want):
                assert g.dtype == w.dtype == np.dtype(dtype)
                _close(g, w, dtype)
    for p, q in zip(floor.params, trainer.parameters()):
        assert p.dtype == np.dtype(dtype)
        _close(p, q.data, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("side", [6, 7])
def test_the_cnn_floor_equals_the_engine_on_numpy(dtype, side):
    """Three SGD-with-momentum steps of _cnn(side); an odd side drops the pool's last row
    and column. A third of the images are constant and a third constant along the
    anti-diagonals (x[r, c] = f(r + c): a window's (0, 1) and (1, 0) see the same 3x3
    patch), so windows tie, all four or two: one maximum alone takes the gradient
    (PyTorch's rule, the engine's). Which one is not seen here: tied entries have the
    same patch, hence the same weight gradient."""
    rng = np.random.default_rng(2)
    r = np.arange(side)
    batches = []
    for _ in range(3):
        x = rng.standard_normal((6, 1, side, side)).astype(np.float32)
        x[::3] = rng.uniform(0.5, 2, (2, 1, 1, 1))
        x[1::3, 0] = rng.standard_normal((2, 2 * side))[:, r[:, None] + r]
        batches.append((x, rng.integers(0, 10, 6)))
    trainer = gc.Classifier(lambda: gc._cnn(side), batches, _cast(dtype))
    floor = gc.FloorCNN(np, [np.array(p.data) for p in trainer.parameters()], 0.01, 0.9)
    record = []
    floor.update = _recording(record, floor.update, 0)
    _equal_runs(trainer, floor, [(_cast(dtype)(x), y) for x, y in batches], record,
                lambda: [p.grad.data for p in trainer.parameters()], dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", [(8, 8), (16,), (6, 5, 7)])
def test_the_ring_gan_floor_equals_the_engine_on_numpy(dtype, hidden):
    """Three WGAN-GP steps: the critic's first gradients (where the hand-derived penalty
    gradient enters: Adam's first step sees only their signs) and the generator's, then
    the losses and all parameters."""
    trainer = gc.RingGAN(8, hidden, _cast(dtype), steps=3)
    n_g = len(list(trainer.G.parameters()))
    init = [np.array(p.data) for p in trainer.parameters()]
    floor = gc.FloorRingGAN(np, init[:n_g], init[n_g:])
    record = []
    floor.adam = _recording(record, floor.adam, 0)
    _equal_runs(trainer, floor, trainer.batches, record,
                lambda: [p.grad.data for p in [*trainer.D.parameters(),
                                               *trainer.G.parameters()]], dtype)
    moved = [np.max(np.abs(p - q)) for p, q in zip(floor.params, init)]
    # every parameter moved but the critic's output bias: its gradient 1/n n - 1/n n is 0
    assert min(moved[:-1]) > 0 and moved[-1] == 0


def test_a_floor_that_disagrees_stops_the_speed_part(monkeypatch):
    monkeypatch.setattr(gc, "_torch_cuda", lambda: None)
    monkeypatch.setattr(gc, "floor_of", lambda trainer, xp: lambda i=0: 0.0)
    with pytest.raises(AssertionError, match="CNN conv3x3"):
        gc.speed(_NumpyAsCupy(), float("inf"), batches=(4,), quick=True)


def test_the_chain_floor_equals_the_engine_on_numpy():
    x0 = np.random.default_rng(1).standard_normal(16)
    x = ag.tensor(x0, requires_grad=True)
    gc.chain(x, ag.tanh, 30).sum().backward()
    np.testing.assert_allclose(gc.floor_grad(x0, 30), x.grad.data, rtol=1e-12)


def test_without_cupy_the_gpu_check_skips_cleanly(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(gc, "cupy_or_none", lambda: None)
    assert gc.main(["--device", "cuda", "--out", str(tmp_path / "r.md")]) == 0
    assert gc.SKIPPED in capsys.readouterr().out
    assert not (tmp_path / "r.md").exists()


class _NumpyAsCupy:
    """The speed part's device on numpy (its floors take numpy's route): runs every
    line of it except the CuPy kernels and PyTorch."""

    name, kind, where = "cpu", "numpy", None
    cupy = np

    def put(self, a):
        return np.asarray(a)

    def sync(self):
        pass


def test_the_speed_part_runs_with_its_floor_checks(monkeypatch):
    monkeypatch.setattr(gc, "_torch_cuda", lambda: None)
    result = gc.speed(_NumpyAsCupy(), float("inf"), batches=(4,), quick=True)
    cases = [r["case"] for r in result["rows"]]
    assert len(cases) == 4 and cases[0].startswith("MLP") and "chain" in cases[1]
    assert all(r["engine_ms"] > 0 for r in result["rows"])
    assert all(r["floor_ms"] > 0 for r in result["rows"])
    assert gc.markdown({"device": "x", "environment": "", "seconds": 0.0,
                        "speed": result}).count("\n| ") == 5


def test_cupy_extras_fill_the_standard_names_an_older_cupy_lacks():
    """autograd_core.cuda's fills, on numpy standing in for a CuPy that mirrors numpy 1."""
    from types import SimpleNamespace

    from autograd_core.cuda import _standard_names
    missing = {"concat", "pow", "acos", "cumulative_sum", "cumulative_prod", "unique_all",
               "isdtype", "astype", "permute_dims", "matrix_transpose"}
    old = SimpleNamespace(**{k: getattr(np, k) for k in dir(np)
                             if not k.startswith("_") and k not in missing})
    old.linalg = SimpleNamespace(svd=np.linalg.svd, inv=np.linalg.inv)
    entered = []

    class Dev:
        def __enter__(self):
            entered.append(1)

        def __exit__(self, *exc):
            return False
    names = _standard_names(old)
    assert missing <= set(names)
    x = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 5.0]])
    np.testing.assert_array_equal(names["cumulative_sum"](x, axis=1, include_initial=True),
                                  np.concatenate([np.zeros((2, 1)), np.cumsum(x, 1)], 1))
    np.testing.assert_array_equal(names["cumulative_prod"](x[0]), np.cumprod(x[0]))
    u = names["unique_all"](x)
    np.testing.assert_array_equal(u.values[u.inverse_indices], x)
    np.testing.assert_array_equal(x.reshape(-1)[u.indices], u.values)
    assert names["isdtype"](x.dtype, "real floating")
    np.testing.assert_allclose(names["linalg"].svdvals(x), np.linalg.svdvals(x))
    z = names["zeros"]((2,), dtype=np.float32, device=Dev())
    a = names["asarray"](x, device=Dev(), copy=True)
    assert z.dtype == np.float32 and a is not x and len(entered) == 2
    assert names["asarray"](x) is x
