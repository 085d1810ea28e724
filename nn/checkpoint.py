"""Checkpoints in numpy's .npz format, written atomically and read without pickle.

    nn.save(model.state_dict(), "model.npz")
    model.load_state_dict(nn.load("model.npz"))
    nn.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, "ckpt.npz")

Format. A flat dict of name -> array (a state_dict) is stored as a plain .npz,
one entry per name, readable by `np.load` anywhere. Anything else - nested
dicts, int keys, lists, tuples, Python numbers, strings, None (an optimizer's
state_dict) - is stored as arrays under dotted path names ("optim.state.0.exp_avg")
plus one entry `__structure__`: a uint8 array holding UTF-8 JSON that describes
the tree and says which entry holds each array. `load` rebuilds the same
tree (int keys and tuples included). No pickle is written or read, ever:
object arrays are refused when saving, and a file that would need pickle to
load raises ValueError naming the file.

Atomicity. `save` writes to a temporary file in the target's directory,
flushes and fsyncs it, then `os.replace`s it over the target: a crash or an
error mid-write leaves any previous checkpoint intact and no temporary file.
"""

from __future__ import annotations

import errno
import json
import os
import uuid
import zipfile
from typing import Any

import numpy as np

from autograd_core.tensor import Tensor

__all__ = ["save", "load"]

STRUCTURE = "__structure__"
FORMAT = "autograd-core checkpoint"
_RESERVED = {STRUCTURE, "file", "allow_pickle"}  # np.savez's own keyword names


def _fspath(name: str, path: Any) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{name}: path must be a str or os.PathLike, got "
                        f"{type(path).__name__}") from None


def save(state_dict: Any, path: str | os.PathLike) -> None:
    """Write `state_dict` (usually a dict of arrays, maybe nested) to `path` as .npz,
    atomically. The file is written at exactly `path` (no suffix is added)."""
    arrays = _encode(state_dict)
    path = _fspath("save", path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"save: {path} is a directory; give a file "
                                f"name such as {os.path.join(path, 'model.npz')}")
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    # O_EXCL: never clobber someone else's file; mode 0o666 less the umask, like open().
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as err:  # name the user's path, not the temporary file's
        raise type(err)(err.errno, f"save: cannot write {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _sync_directory(directory)


def load(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by `save` (or any .npz of plain arrays) without pickle."""
    path = _fspath("load", path)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as err:  # FileNotFoundError etc., naming the path as the user gave it
        raise type(err)(err.errno, f"load: cannot read {path}: {err.strerror}") from None
    if magic.startswith(b"\x80"):
        raise ValueError(f"load: {path} is a pickle file, not an .npz checkpoint; it cannot "
                         f"be loaded without pickle, which nn.load never uses")
    if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
        raise ValueError(f"load: {path} is not an .npz checkpoint (no zip signature at its "
                         f"start: {magic!r})")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"load: {path} cannot be read as an .npz checkpoint without pickle, "
                         f"which nn.load never uses ({err})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an .npz checkpoint (a single array was found)")
    with archive:
        arrays = {}
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError as err:
                raise ValueError(f"{path}: entry {key!r} holds Python objects that would "
                                 f"need pickle to load; nn.load refuses them ({err})") from None
    if STRUCTURE not in arrays:
        return arrays
    meta = json.loads(arrays.pop(STRUCTURE).tobytes().decode("utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown {STRUCTURE} entry (format {meta.get('format')!r})")
    return _decode(meta["tree"], arrays)


# -- the tree <-> (arrays, JSON) encoding ------------------------------------------------
def _encode(obj: Any) -> dict[str, np.ndarray]:
    if isinstance(obj, dict) and all(isinstance(k, str) and k not in _RESERVED for k in obj) \
            and all(isinstance(v, (np.ndarray, Tensor)) for v in obj.values()):
        return {k: _array(v, k) for k, v in obj.items()}  # a plain .npz
    arrays: dict[str, np.ndarray] = {}
    tree = _node(obj, "", arrays)
    text = json.dumps({"format": FORMAT, "version": 1, "tree": tree})
    arrays[STRUCTURE] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return arrays


def _array(value: Any, name: str) -> np.ndarray:
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.hasobject:
        raise ValueError(f"{name or 'value'}: an object array cannot be saved without pickle")
    return arr


def _node(obj: Any, name: str, arrays: dict) -> dict:
    """The JSON description of obj; its arrays go into `arrays` under dotted names."""
    if isinstance(obj, (np.ndarray, Tensor)):
        key = name or "array"
        while key in arrays or key in _RESERVED:
            key += "#"
        arrays[key] = _array(obj, name)
        return {"array": key}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"{name}: a key of type {type(k).__name__} cannot be saved")
            child = f"{name}.{k}" if name else str(k)
            items.append([k, _node(v, child, arrays)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_node(v, f"{name}.{i}" if name else str(i), arrays)
                       for i, v in enumerate(obj)]}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"{name or 'value'}: {type(obj).__name__} cannot be saved without "
                    f"pickle (arrays, dicts, lists, tuples, numbers, strings and None can)")


def _decode(node: dict, arrays: dict) -> Any:
    if "array" in node:
        return arrays[node["array"]]
    if "dict" in node:
        return {k: _decode(v, arrays) for k, v in node["dict"]}
    if "list" in node:
        return [_decode(v, arrays) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, arrays) for v in node["tuple"])
    return node["value"]


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); harmless where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
