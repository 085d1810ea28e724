"""nn.load under damage: every byte inverted, bits flipped, every truncation, spans
overwritten, foreign and newer files. Each damaged file either loads as exactly what
was saved or raises ValueError naming the file; nothing else, and never a part."""

from __future__ import annotations

import json
import struct
import zipfile

import numpy as np
import pytest

import nn
from nn import checkpoint


def payload():
    """A few arrays of several dtypes, and an optimizer-like nested dict."""
    rng = np.random.default_rng(0)
    return {
        "model": {"fc.weight": rng.standard_normal((3, 4)).astype(np.float32),
                  "fc.bias": np.arange(3, dtype=np.float32),
                  "counts": np.array([1, 2], np.int64)},
        "optim": {"state": {0: {"step": 3, "exp_avg": rng.standard_normal((3, 4))},
                            1: {"step": 3, "exp_avg": np.zeros(3)}},
                  "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1]}]},
        "epoch": 7,
        "note": "hi",
    }


def assert_same(got, want, where="root"):
    assert type(got) is type(want), where
    if isinstance(want, dict):
        assert list(got) == list(want), where
        for k in want:
            assert_same(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}.{i}")
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape, where
        assert np.array_equal(got, want), where
    else:
        assert got == want, where


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "model.npz"
    nn.save(payload(), path)
    return path.read_bytes()


class Loader:
    """Writes each variant to one path and loads it; counts what was refused."""

    def __init__(self, path):
        self.path, self.want, self.refused, self.loaded = path, payload(), 0, 0

    def __call__(self, data: bytes) -> None:
        self.path.write_bytes(data)
        try:
            got = nn.load(self.path)
        except ValueError as err:
            assert str(self.path) in str(err)
            self.refused += 1
            return
        assert_same(got, self.want)
        self.loaded += 1


def test_the_payload_round_trips(tmp_path, saved):
    Loader(tmp_path / "x.npz")(saved)


def test_every_byte_inverted(tmp_path, saved):
    load = Loader(tmp_path / "model.npz")
    for i in range(len(saved)):
        data = bytearray(saved)
        data[i] ^= 0xFF
        load(bytes(data))
    # What still loads are bytes nothing depends on (timestamps, attributes, padding).
    assert load.refused > 0.9 * len(saved)


def directory_start(data: bytes) -> int:
    *_, offset, _ = struct.unpack("<4s4H2LH", data[-22:])
    return offset


def test_every_bit_flip_in_the_zip_directory_and_a_sample_elsewhere(tmp_path, saved):
    # The directory is where a flip once loaded 1 entry of 9 silently: every bit there.
    load = Loader(tmp_path / "model.npz")
    start = directory_start(saved)
    rng = np.random.default_rng(1)
    sample = rng.integers(0, start, 1500)
    positions = [(i, b) for i in range(start, len(saved)) for b in range(8)]
    positions += [(int(i), int(b)) for i, b in zip(sample, rng.integers(0, 8, len(sample)))]
    for i, bit in positions:
        data = bytearray(saved)
        data[i] ^= 1 << bit
        load(bytes(data))
    assert load.refused > 0.5 * len(positions)


def test_every_truncation(tmp_path, saved):
    load = Loader(tmp_path / "model.npz")
    for n in range(len(saved)):
        load(saved[:n])
    assert load.loaded == 0


def test_random_span_overwrites(tmp_path, saved):
    load = Loader(tmp_path / "model.npz")
    rng = np.random.default_rng(2)
    for _ in range(600):
        n = int(rng.integers(1, 65))
        i = int(rng.integers(0, len(saved) - n + 1))
        data = bytearray(saved)
        fill = rng.integers(0, 256, n, dtype=np.uint8).tobytes() if rng.random() < 0.7 else bytes(n)
        data[i:i + n] = fill
        load(bytes(data))
    assert load.refused > 500


def test_appended_or_inserted_bytes(tmp_path, saved):
    load = Loader(tmp_path / "model.npz")
    for extra in (b"\0", b"PK\x05\x06" + bytes(18), saved[-22:]):
        load(saved + extra)
        load(extra + saved)
    assert load.loaded == 0


# -- foreign, old and newer files ----------------------------------------------------------


def refused(path, *words):
    with pytest.raises(ValueError) as info:
        nn.load(path)
    message = str(info.value)
    assert str(path) in message, message
    for word in words:
        assert word in message, message
    return message


def test_other_files_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "x.npz"
    for data in (b"", b"P", b"PK\x03\x04", b"hello world" * 10, bytes(range(256)) * 4):
        path.write_bytes(data)
        refused(path)


def test_a_zip_with_a_member_that_is_not_an_array(tmp_path):
    path = tmp_path / "foreign.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("w.npy", b"\x93NUMPY")
        zf.writestr("readme.txt", b"hello")
    refused(path, "'readme.txt' is not an .npy array")


def test_a_zip_with_a_comment_or_a_name_twice_is_refused(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, w=np.ones(2))
    with zipfile.ZipFile(path, "a") as zf:
        zf.comment = b"hello"
    refused(path, "zip end record")
    with pytest.warns(UserWarning), zipfile.ZipFile(path, "w") as zf:
        for value in (1, 2):
            with zf.open("w.npy", "w") as f:
                np.lib.format.write_array(f, np.full(2, value))
    refused(path, "'w' appears twice")


def test_plain_numpy_npz_still_loads_and_is_checked(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.arange(3.0), b=np.eye(2, dtype=np.float32))
    got = nn.load(path)
    assert list(got) == ["a", "b"] and np.array_equal(got["b"], np.eye(2))
    np.savez_compressed(path, a=np.arange(3.0))
    assert np.array_equal(nn.load(path)["a"], np.arange(3.0))
    np.savez(path, a=np.arange(300.0))
    data = bytearray(path.read_bytes())
    data[200] ^= 1  # inside a's data: the zip's CRC-32 sees it
    path.write_bytes(bytes(data))
    refused(path, "damaged")


def write_structure(path, meta, arrays):
    text = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays, __structure__=text)


def test_version_one_checkpoints_still_load(tmp_path):
    path = tmp_path / "old.npz"
    tree = {"dict": [["w", {"array": "w"}], [0, {"tuple": [{"value": 1}, {"value": None}]}]]}
    write_structure(path, {"format": checkpoint.FORMAT, "version": 1, "tree": tree},
                    {"w": np.ones(2)})
    got = nn.load(path)
    assert list(got) == ["w", 0] and got[0] == (1, None) and np.array_equal(got["w"], [1, 1])
    write_structure(path, {"format": checkpoint.FORMAT, "version": 1, "tree": tree}, {})
    refused(path, "missing entry 'w'")


def manifest(path):
    with np.load(path) as raw:
        return json.loads(raw["__structure__"].tobytes())


def test_a_newer_version_is_refused_saying_so(tmp_path):
    path = tmp_path / "new.npz"
    nn.save({"w": np.ones(2)}, path)
    meta = manifest(path)
    meta["version"] = 3
    body = {k: meta[k] for k in ("format", "version", "tree", "entries")}
    meta["checksum"] = checkpoint._checksum(body)
    write_structure(path, meta, {"w": np.ones(2)})
    refused(path, "newer", "version 3")


def test_a_manifest_that_disagrees_with_the_entries(tmp_path):
    path = tmp_path / "m.npz"
    nn.save({"w": np.ones(2), "b": np.zeros(3)}, path)
    meta = manifest(path)
    write_structure(path, meta, {"w": np.ones(2)})  # b is gone
    refused(path, "not those of its manifest", "'b'")
    write_structure(path, meta, {"w": np.ones(2), "b": np.ones(3)})  # b is changed
    refused(path, "entry 'b' does not match its checksum")
    write_structure(path, meta, {"w": np.ones(2), "b": np.zeros(4)})
    refused(path, "entry 'b' is <f8 (4,), its manifest says <f8 (3,)")
    meta["entries"]["b"]["sha256"] = "0" * 64  # the checksum covers the manifest too
    write_structure(path, meta, {"w": np.ones(2), "b": np.zeros(3)})
    refused(path, "does not match its checksum")


def test_every_saved_dtype_and_shape_round_trips(tmp_path):
    path = tmp_path / "d.npz"
    values = {"f16": np.ones((2, 0), np.float16), "scalar": np.array(2.5),
              "big_endian": np.arange(4, dtype=">f4"), "fortran": np.asfortranarray(np.eye(3)),
              "strided": np.arange(10.0)[::3], "bool": np.array([True, False]),
              "complex": np.array([1 + 2j]), "text": np.array(["ab", "c"]),
              "record": np.zeros(2, [("a", "<f4"), ("b", "<i2")])}
    nn.save(values, path)
    got = nn.load(path)
    for k, v in values.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
        np.testing.assert_array_equal(got[k], v)
    got["scalar"][...] = 1  # loaded arrays are the caller's to change


@pytest.mark.parametrize("limit", ["entries", "bytes"])
def test_zip64_archives_load_and_are_checked_as_well(tmp_path, monkeypatch, limit):
    # Past 65535 entries or 2 GiB zipfile writes zip64 end records; smaller limits
    # make it do so here.
    path = tmp_path / "big.npz"
    if limit == "entries":
        monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 3)
    else:
        monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1000)
    nn.save(payload(), path)
    monkeypatch.undo()
    data = path.read_bytes()
    assert b"PK\x06\x06" in data[-200:]
    load = Loader(path)
    load(data)
    assert load.loaded == 1
    for n in range(len(data)):
        load(data[:n])
    for i in range(len(data) - 300, len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0xFF
        load(bytes(damaged))
    assert load.loaded < 100
