"""nn.save / nn.load: round trips, nested optimizer state, atomic writes, no pickle."""

from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from nn import checkpoint


def model():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_state_dict_round_trip_is_a_plain_npz(tmp_path):
    m = model()
    m(ag.randn(5, 3))  # move the running statistics
    path = tmp_path / "model.npz"
    nn.save(m.state_dict(), path)
    with np.load(path) as raw:  # readable by numpy alone: the arrays, then the manifest
        assert list(raw.files) == [*m.state_dict(), "__structure__"]
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(raw[k], v)
    loaded = nn.load(path)
    assert list(loaded) == list(m.state_dict())
    fresh = model()
    fresh.load_state_dict(loaded)
    for (k, a), b in zip(m.state_dict().items(), fresh.state_dict().values()):
        assert a.dtype == b.dtype, k
        np.testing.assert_array_equal(a, b)


def test_nested_checkpoint_with_optimizer_state(tmp_path):
    m = model()
    opt = optim.Adam(m.parameters(), lr=0.01)
    m(ag.randn(5, 3)).sum().backward()
    opt.step()
    path = str(tmp_path / "ckpt.npz")
    payload = {"model": m.state_dict(), "optim": opt.state_dict(), "epoch": 7,
               "note": "hi", "best": None, "shape": (2, 3)}
    nn.save(payload, path)
    back = nn.load(path)
    assert back["epoch"] == 7 and back["note"] == "hi" and back["best"] is None
    assert back["shape"] == (2, 3)
    assert set(back["optim"]["state"]) == {0, 1, 2, 3, 4, 5}  # int keys survive
    assert back["optim"]["param_groups"][0]["betas"] == (0.9, 0.999)
    np.testing.assert_array_equal(back["optim"]["state"][0]["exp_avg"],
                                  opt.state_dict()["state"][0]["exp_avg"])
    m2 = model()
    m2.load_state_dict(back["model"])
    opt2 = optim.Adam(m2.parameters(), lr=0.5)
    opt2.load_state_dict(back["optim"])
    assert opt2.param_groups[0]["lr"] == 0.01
    with np.load(path) as raw:  # arrays keep readable dotted names
        assert "model.0.weight" in raw.files and "optim.state.0.exp_avg" in raw.files


def test_reserved_names_and_unsupported_values(tmp_path):
    path = tmp_path / "odd.npz"
    nn.save({"file": np.ones(2), "allow_pickle": np.zeros(1)}, path)
    back = nn.load(path)
    assert set(back) == {"file", "allow_pickle"}
    with pytest.raises(TypeError):
        nn.save({"f": object()}, path)
    with pytest.raises(ValueError, match="object array"):
        nn.save({"f": np.array([{}], dtype=object)}, path)


def test_writes_exactly_the_path_given(tmp_path):
    path = tmp_path / "weights.ckpt"
    nn.save({"w": np.ones(3)}, path)
    assert sorted(os.listdir(tmp_path)) == ["weights.ckpt"]


@pytest.mark.parametrize("broken", ["write", "replace"])
def test_a_failed_write_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch, broken):
    path = tmp_path / "model.npz"
    nn.save({"w": np.arange(3.0)}, path)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    if broken == "write":
        def half_write(f, arrays):  # write some bytes, then die
            f.write(b"PK\x03\x04 partial")
            raise OSError("disk full")
        monkeypatch.setattr(checkpoint, "_write_archive", half_write)
    else:
        monkeypatch.setattr(checkpoint.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        nn.save({"w": np.zeros(5)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    np.testing.assert_array_equal(nn.load(path)["w"], np.arange(3.0))


def test_object_arrays_are_refused_with_the_file_name(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, ok=np.ones(2), bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="evil.npz") as info:
        nn.load(path)
    assert "pickle" in str(info.value)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"w": np.ones(2)}))
    with pytest.raises(ValueError, match="model.pkl"):
        nn.load(pickled)
    single = tmp_path / "one.npy"
    np.save(single, np.ones(2))
    with pytest.raises(ValueError, match="one.npy"):
        nn.load(single)


def test_crafted_structure_entry_cannot_smuggle_objects(tmp_path):
    path = tmp_path / "crafted.npz"
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("__structure__.npy", "w") as f:
            np.lib.format.write_array(f, np.array([object()], dtype=object),
                                      allow_pickle=True)
    with pytest.raises(ValueError, match="crafted.npz"):
        nn.load(path)


def test_load_and_save_name_the_users_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"load: notes\.txt is not an \.npz checkpoint"):
        nn.load("notes.txt")
    with pytest.raises(FileNotFoundError, match="/nope/x.npz"):
        nn.load("/nope/x.npz")
    (tmp_path / "ckpts").mkdir()
    with pytest.raises(IsADirectoryError, match="save: ckpts is a directory"):
        nn.save({"w": np.ones(2)}, "ckpts")
    assert os.listdir(tmp_path / "ckpts") == [] and ".tmp" not in " ".join(os.listdir())
