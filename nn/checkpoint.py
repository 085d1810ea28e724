"""Checkpoints in numpy's .npz format: written atomically, read without pickle, verified.

    nn.save(model.state_dict(), "model.npz")
    model.load_state_dict(nn.load("model.npz"))
    nn.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, "ckpt.npz")

Format (version 2). A zip of uncompressed .npy arrays, as `np.savez` writes, so
`np.load` reads every entry as an array. Each array is stored under its dotted
path ("model.0.weight", "optim.state.0.exp_avg"), plus one entry `__structure__`
(last in the zip), a uint8 array holding UTF-8 JSON:

    {"format": "autograd-core checkpoint", "version": 2,
     "tree": the saved object: dicts (any JSON-able keys, int keys kept), lists,
             tuples, numbers, strings, None, and {"array": name} for each array,
     "entries": {name: {"shape": [...], "dtype": "<f4", "sha256": digest of its data}},
     "checksum": sha256 of the JSON text of the four fields above}

No pickle is written or read, ever: object arrays are refused when saving.

Verification. `load` returns nothing it has not checked: the zip ends in a
plain end record whose entry count is that of its directory; every entry is an
.npy array; the checksum holds; the entries are exactly the manifest's; each
array has the manifest's shape and dtype, and its data bytes the manifest's
digest (and the zip's CRC-32). A damaged, truncated or foreign file (a zip not
written by `save`, a pickle, anything else), or one written by a newer version,
raises ValueError naming the file and what is wrong. A missing or unreadable
file raises what `open` raises (FileNotFoundError, PermissionError): it is not
a damaged file.

Older files. A plain .npz of arrays (`np.savez`, or `save` before version 2)
and a version-1 checkpoint of this project (a `__structure__` without
manifest) still load as before, so existing checkpoints keep working; they are
checked as far as they can be without a manifest (the zip's CRC-32 of every
entry and the end record's count, .npy entries only, no pickle, no entry named
twice, every array of a version-1 tree present and used), so damage that these
cannot see is only caught in version-2 files. Saving again writes version 2.

Atomicity. `save` writes a temporary file `.NAME.PID.RANDOM.tmp` beside the
target, flushes and fsyncs it, then `os.replace`s it over the target: a crash or
an error mid-write leaves any previous checkpoint intact. A save killed outright
(SIGKILL, power loss) leaves its temporary file behind; the next save to the
same target removes those whose process is gone.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import struct
import threading
import time
import uuid
import zipfile
from typing import Any

import numpy as np

from autograd_core.tensor import Tensor

__all__ = ["save", "load"]

STRUCTURE = "__structure__"
FORMAT = "autograd-core checkpoint"
VERSION = 2
_CHUNK = 1 << 20  # bytes read at a time: a damaged size claim never allocates more
_END = struct.Struct("<4s4H2LH")  # the zip's end-of-central-directory record, no comment
_END64 = struct.Struct("<4sQ2H2L4Q")  # zip64's, for archives past 4 GiB or 65535 entries
_LOCATOR64 = struct.Struct("<4sLQL")  # where zip64's end record is
_IN_FLIGHT: set[str] = set()  # this process's temporary files being written now
_IN_FLIGHT_LOCK = threading.Lock()


class _Refused(Exception):
    """What is wrong with a file, worded to follow "load: PATH "."""


def _damaged(what: str) -> _Refused:
    return _Refused(f"is damaged: {what}")


def _fspath(name: str, path: Any) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{name}: path must be a str or os.PathLike, got "
                        f"{type(path).__name__}") from None


# -- save -----------------------------------------------------------------------------------
def save(state_dict: Any, path: str | os.PathLike) -> None:
    """Write `state_dict` (usually a dict of arrays, maybe nested) to `path` as .npz,
    atomically. The file is written at exactly `path` (no suffix is added)."""
    arrays, tree = _encode(state_dict)
    arrays[STRUCTURE] = _manifest_array(tree, arrays)
    path = _fspath("save", path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"save: {path} is a directory; give a file "
                                f"name such as {os.path.join(path, 'model.npz')}")
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    _remove_stale_temporaries(directory, base)
    name = f".{base}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    tmp = os.path.join(directory, name)
    # O_EXCL: never clobber someone else's file; mode 0o666 less the umask, like open().
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as err:  # name the user's path, not the temporary file's
        raise type(err)(err.errno, f"save: cannot write {path}: {err.strerror}") from None
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.add(name)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_archive(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(name)
    _sync_directory(directory)


def _write_archive(f: Any, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            big = arr.nbytes + 65536 >= zipfile.ZIP64_LIMIT
            with zf.open(key + ".npy", "w", force_zip64=big) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def _manifest_array(tree: Any, arrays: dict[str, np.ndarray]) -> np.ndarray:
    entries = {key: _entry(arr) for key, arr in arrays.items()}
    body = {"format": FORMAT, "version": VERSION, "tree": tree, "entries": entries}
    text = json.dumps({**body, "checksum": _checksum(body)})
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _entry(arr: np.ndarray) -> dict[str, Any]:
    return {"shape": list(arr.shape), "dtype": _descr(arr.dtype),
            "sha256": hashlib.sha256(arr).hexdigest()}  # arr is C-contiguous: its file bytes


def _descr(dtype: np.dtype) -> Any:
    """The .npy header's description of dtype, as it reads back from JSON."""
    return json.loads(json.dumps(np.lib.format.dtype_to_descr(dtype)))


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body).encode("utf-8")).hexdigest()


def _temporary_pattern(base: str) -> re.Pattern:
    return re.compile(re.escape(f".{base}.") + r"(\d+)\.[0-9a-f]{12}\.tmp\Z")


def _remove_stale_temporaries(directory: str, base: str) -> None:
    """Remove the temporary files of earlier saves to `base` that were killed mid-write."""
    pattern = _temporary_pattern(base)
    try:
        names = os.listdir(directory)
    except OSError:
        return  # the save itself will say what is wrong with the directory
    for name in names:
        match = pattern.match(name)
        if match and not _still_writing(int(match.group(1)), name, directory):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _still_writing(pid: int, name: str, directory: str) -> bool:
    if pid == os.getpid():
        with _IN_FLIGHT_LOCK:
            return name in _IN_FLIGHT
    if os.name != "posix":  # no signal 0 to ask with: an hour without a write is stale
        try:
            return time.time() - os.stat(os.path.join(directory, name)).st_mtime < 3600
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, someone else's
        return True
    return True


# -- load -----------------------------------------------------------------------------------
def load(path: str | os.PathLike) -> Any:
    """Read and verify a checkpoint written by `save` (or a plain .npz of arrays)
    without pickle; ValueError naming the file if it is damaged or foreign."""
    path = _fspath("load", path)
    try:
        f = open(path, "rb")
    except OSError as err:  # FileNotFoundError etc., naming the path as the user gave it
        raise type(err)(err.errno, f"load: cannot read {path}: {err.strerror}") from None
    with f:
        try:
            return _read(f)
        except _Refused as err:
            raise ValueError(f"load: {path} {err}") from None
        except MemoryError:
            raise
        except OSError as err:
            if err.errno not in (None, errno.EINVAL):  # the disk's trouble, not the file's
                raise
            raise ValueError(f"load: {path} is damaged: {_describe(err)}") from None
        except Exception as err:  # zipfile's, json's, numpy's header parser: bytes are wrong
            raise ValueError(f"load: {path} is damaged or not an .npz checkpoint: "
                             f"{_describe(err)}") from None


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _read(f: Any) -> Any:
    magic = f.read(6)
    size = f.seek(0, os.SEEK_END)
    if magic.startswith(b"\x80"):
        raise _Refused("is a pickle file, not an .npz checkpoint; it cannot be loaded "
                       "without pickle, which nn.load never uses")
    if magic.startswith(b"\x93NUMPY"):
        raise _Refused("is a single .npy array, not an .npz checkpoint")
    empty_zip = magic.startswith(b"PK\x05\x06") and size == _END.size
    if not (magic.startswith(b"PK\x03\x04") or empty_zip):
        raise _Refused(f"is not an .npz checkpoint (no zip signature at its start: {magic!r})")
    count = _end_record_count(f, size)
    with zipfile.ZipFile(f) as zf:
        infos = zf.infolist()
        if len(infos) != count:
            raise _damaged(f"its zip directory lists {len(infos)} entries, its end record "
                           f"{count}")
        members = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise _Refused(f"is not an .npz checkpoint: entry {info.filename!r} is not an "
                               ".npy array")
            key = info.filename[:-4]
            if key in members:
                raise _damaged(f"entry {key!r} appears twice")
            if info.compress_size > size:
                raise _damaged(f"entry {key!r} claims {info.compress_size} bytes, more than "
                               f"the file's {size}")
            members[key] = info
        if STRUCTURE not in members:  # a plain .npz: numpy's, or ours before version 2
            return {key: _read_array(zf, info, key) for key, info in members.items()}
        meta = _read_structure(zf, members.pop(STRUCTURE))
        if meta.get("version") == 1:
            arrays = {key: _read_array(zf, info, key) for key, info in members.items()}
            return _decode_checked(meta.get("tree"), arrays)
        entries = _check_manifest(meta)
        if set(members) != set(entries):
            missing, extra = set(entries) - set(members), set(members) - set(entries)
            raise _damaged(f"its entries are not those of its manifest (missing "
                           f"{sorted(missing)}, unexpected {sorted(extra)})")
        arrays = {key: _read_array(zf, info, key, entries[key])
                  for key, info in members.items()}
        return _decode_checked(meta["tree"], arrays)


def _end_record_count(f: Any, size: int) -> int:
    """The entry count of the zip end record that must close the file (no comment),
    with its directory ending right where the end records begin."""
    if size >= _END.size:
        f.seek(size - _END.size)
        sig, disk, cd_disk, on_disk, count, cd_size, cd_offset, comment = _END.unpack(
            f.read(_END.size))
        if sig == b"PK\x05\x06" and comment == 0:
            if disk or cd_disk or on_disk != count:
                raise _damaged("its zip end record is inconsistent")
            end = size - _END.size
            if cd_offset + cd_size != end:  # past 2 GiB or 65535 entries, zip64's records
                end, count, cd_size, cd_offset = _zip64_end_record(f, end)  # sit between
            if cd_offset + cd_size != end:
                raise _damaged(f"its zip directory ({cd_size} bytes at {cd_offset}) does not "
                               f"end where its end record begins ({end})")
            return count
    raise _Refused("is truncated, damaged, or not an .npz checkpoint: it does not end "
                   "with a zip end record")


def _zip64_end_record(f: Any, end: int) -> tuple[int, int, int, int]:
    """(where the zip64 end record starts, entries, directory size and offset)."""
    if end < _LOCATOR64.size + _END64.size:
        raise _damaged("its zip directory does not end where its end record begins")
    f.seek(end - _LOCATOR64.size)
    sig, disk, start, disks = _LOCATOR64.unpack(f.read(_LOCATOR64.size))
    if sig != b"PK\x06\x07":
        raise _damaged("its zip directory does not end where its end record begins")
    if disk != 0 or disks != 1 or start != end - _LOCATOR64.size - _END64.size:
        raise _damaged("its zip64 end record locator is inconsistent")
    f.seek(start)
    sig, _, _, _, disk, cd_disk, on_disk, count, cd_size, cd_offset = _END64.unpack(
        f.read(_END64.size))
    if sig != b"PK\x06\x06" or disk or cd_disk or on_disk != count:
        raise _damaged("its zip64 end record is damaged")
    return start, count, cd_size, cd_offset


def _read_structure(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    text = _read_array(zf, info, STRUCTURE)
    if text.dtype != np.uint8 or text.ndim != 1:
        raise _damaged(f"its {STRUCTURE} entry is not a uint8 vector")
    try:
        meta = json.loads(text.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise _damaged(f"its {STRUCTURE} entry is not valid JSON ({_describe(err)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _Refused(f"is not an nn.save checkpoint: unknown {STRUCTURE} entry")
    version = meta.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise _Refused(f"was written by a newer autograd-core (checkpoint version "
                       f"{version}; this one reads versions 1 to {VERSION}); upgrade to load it")
    if version not in (1, VERSION):
        raise _damaged(f"its {STRUCTURE} entry has no known version ({version!r})")
    return meta


def _check_manifest(meta: dict[str, Any]) -> dict[str, Any]:
    body = {k: meta.get(k) for k in ("format", "version", "tree", "entries")}
    if set(meta) != {*body, "checksum"} or meta["checksum"] != _checksum(body):
        raise _damaged(f"its {STRUCTURE} entry does not match its checksum")
    entries = meta["entries"]
    if not isinstance(entries, dict):
        raise _damaged(f"its {STRUCTURE} entry has no manifest")
    return entries


def _read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str,
                expected: dict[str, Any] | None = None) -> np.ndarray:
    """One .npy entry, read in bounded chunks; checked against `expected` (manifest)."""
    with zf.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise _damaged(f"entry {key!r} has an unknown .npy version {version}")
        if dtype.hasobject:
            raise _Refused(f"is refused: entry {key!r} holds Python objects that would need "
                           "pickle to load, which nn.load never uses")
        if expected is not None and (list(shape) != expected.get("shape") or fortran
                                     or _descr(dtype) != expected.get("dtype")):
            raise _damaged(f"entry {key!r} is {dtype.str} {shape}, its manifest says "
                           f"{expected.get('dtype')} {tuple(expected.get('shape') or ())}")
        nbytes = math.prod(shape) * dtype.itemsize
        if member.tell() + nbytes != info.file_size:
            raise _damaged(f"entry {key!r} holds {info.file_size} bytes, its .npy header "
                           f"describes {member.tell() + nbytes}")
        data = bytearray()
        while len(data) < nbytes:
            chunk = member.read(min(nbytes - len(data), _CHUNK))
            if not chunk:
                raise _damaged(f"entry {key!r} is truncated")
            data += chunk
        if member.read(1):  # also lets zipfile check the entry's CRC-32 at its end
            raise _damaged(f"entry {key!r} has bytes past its array")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected.get("sha256"):
        raise _damaged(f"entry {key!r} does not match its checksum")
    if nbytes == 0:
        return np.empty(shape, dtype)
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


# -- the tree <-> (arrays, JSON) encoding ------------------------------------------------
def _encode(obj: Any) -> tuple[dict[str, np.ndarray], Any]:
    arrays: dict[str, np.ndarray] = {}
    tree = _node(obj, "", arrays)
    return arrays, tree


def _array(value: Any, name: str) -> np.ndarray:
    arr = _host(value.data if isinstance(value, Tensor) else value)
    if arr.dtype.hasobject:
        raise ValueError(f"{name or 'value'}: an object array cannot be saved without pickle")
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _host(arr: Any) -> np.ndarray:
    """A numpy array with arr's values: arrays of other libraries are copied to the host."""
    if isinstance(arr, np.ndarray):
        return arr
    if hasattr(arr, "__array_namespace__"):
        get = getattr(arr, "get", None)  # CuPy's device-to-host copy
        return np.asarray(get()) if callable(get) else np.from_dlpack(arr)
    return np.asarray(arr)


def _node(obj: Any, name: str, arrays: dict) -> dict:
    """The JSON description of obj; its arrays go into `arrays` under dotted names."""
    if isinstance(obj, np.generic):  # a numpy scalar is a number, not an array
        obj = obj.item()
    if isinstance(obj, (np.ndarray, Tensor)) or hasattr(obj, "__array_namespace__"):
        key = name or "array"
        while key in arrays or key == STRUCTURE:
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
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"{name or 'value'}: {type(obj).__name__} cannot be saved without "
                    f"pickle (arrays, dicts, lists, tuples, numbers, strings and None can)")


def _decode_checked(tree: Any, arrays: dict[str, np.ndarray]) -> Any:
    used: set[str] = set()
    obj = _decode(tree, arrays, used)
    if used != set(arrays):
        raise _damaged(f"entries {sorted(set(arrays) - used)} are not part of the saved object")
    return obj


def _decode(node: Any, arrays: dict, used: set[str]) -> Any:
    if not isinstance(node, dict) or len(node) != 1:
        raise _damaged(f"its {STRUCTURE} entry holds a malformed tree")
    (kind, value), = node.items()
    if kind == "array":
        if value not in arrays or value in used:
            raise _damaged(f"its {STRUCTURE} entry refers to a missing entry {value!r}")
        used.add(value)
        return arrays[value]
    if kind == "dict":
        return {k: _decode(v, arrays, used) for k, v in value}
    if kind == "list":
        return [_decode(v, arrays, used) for v in value]
    if kind == "tuple":
        return tuple(_decode(v, arrays, used) for v in value)
    if kind == "value":
        return value
    raise _damaged(f"its {STRUCTURE} entry holds a malformed tree")


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
