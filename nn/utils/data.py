"""Datasets and batches, as torch.utils.data.

    from nn.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    for xb, yb in loader:      # Tensors; the order is drawn from ag's generator
        ...

A Dataset maps an index in range(len(dataset)) to one sample. DataLoader
draws the indices of an epoch (a fresh permutation each epoch when
shuffling, from the generator `ag.manual_seed` seeds), cuts them into
batches and collates each batch: samples that are tuples give a tuple of
batches, Tensors and arrays are stacked along a new first axis. A
TensorDataset is indexed with the whole batch's indices at once.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import random as ag_random
from autograd_core.tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "DataLoader", "Digits", "default_collate"]


class Dataset:
    """A map from indices 0..len-1 to samples: subclasses define both methods."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are the rows of the given tensors: dataset[i] == (t[i] for t in tensors).

    Each of `tensors` is a Tensor or an array (made a Tensor without a copy); all
    have the same first dimension.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else ag.as_tensor(t) for t in tensors)
        if any(t.ndim == 0 for t in tensors):
            raise ValueError("TensorDataset: every tensor needs a first dimension to index; "
                             "got a 0-d tensor")
        sizes = [len(t) for t in tensors]
        if len(set(sizes)) > 1:
            raise ValueError(f"TensorDataset: the tensors' first dimensions differ: "
                             f"{', '.join(map(str, sizes))} (shapes "
                             f"{', '.join(str(tuple(t.shape)) for t in tensors)})")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        with ag.no_grad():  # samples are data: no graph back to the whole tensor
            return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


def default_collate(batch: Sequence[Any]) -> Any:
    """A list of samples -> one batch: Tensors, arrays and numbers stacked along a
    new first axis; tuples, lists and dicts collated field by field."""
    first = batch[0]
    if isinstance(first, Tensor):
        with ag.no_grad():
            return ag.stack(list(batch), axis=0)
    if isinstance(first, (np.ndarray, np.generic, numbers.Number)):
        return ag.as_tensor(np.stack([np.asarray(b) for b in batch]))
    if isinstance(first, Mapping):
        return {key: default_collate([b[key] for b in batch]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(b) != len(first) for b in batch):
            raise ValueError("DataLoader: the samples of one batch have different lengths")
        fields = [default_collate(list(column)) for column in zip(*batch)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(f"DataLoader: cannot collate samples of type {type(first).__name__}; "
                    f"return Tensors, arrays, numbers, or tuples/dicts of them, or pass "
                    f"collate_fn")


def _no_collate(sample: Any) -> Any:
    """batch_size=None: a sample as it is, arrays and numbers made Tensors."""
    if isinstance(sample, (np.ndarray, np.generic, numbers.Number)):
        return ag.as_tensor(np.asarray(sample))
    if isinstance(sample, tuple):
        return tuple(_no_collate(s) for s in sample)
    if isinstance(sample, list):
        return [_no_collate(s) for s in sample]
    if isinstance(sample, Mapping):
        return {k: _no_collate(v) for k, v in sample.items()}
    return sample


class DataLoader:
    """Iterate over `dataset` in batches.

    batch_size: samples per batch (a positive int), or None for the samples one
    by one, unbatched. shuffle: a new random order every epoch, drawn from
    `generator` (default: ag's, which `ag.manual_seed` seeds). drop_last: leave
    out the last batch when it is short. collate_fn: list of samples -> batch.
    len(loader) is the number of batches.
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn: Callable | None = None,
                 generator: np.random.Generator | None = None) -> None:
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: dataset must have __getitem__ and __len__ (a "
                            f"Dataset, say TensorDataset(x, y)), got {type(dataset).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool) or
                                       not isinstance(batch_size, numbers.Integral) or
                                       batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size must be a positive integer or None, "
                             f"got {batch_size!r}")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"DataLoader: {name} must be True or False, got {flag!r}")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None turns batching off, so drop_last "
                             "cannot be set")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got "
                            f"{type(collate_fn).__name__}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a numpy Generator, got "
                            f"{type(generator).__name__}")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator

    def _indices(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = ag_random.RNG if self.generator is None else self.generator
        return rng.permutation(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._indices()
        if self.batch_size is None:
            for i in order:
                yield _no_collate(self.dataset[int(i)])
            return
        fast = type(self.dataset).__getitem__ is TensorDataset.__getitem__ and \
            self.collate_fn is None
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            if len(idx) < self.batch_size and self.drop_last:
                return
            if fast:
                yield self.dataset[idx]  # one fancy index per tensor, not per sample
            else:
                samples = [self.dataset[int(i)] for i in idx]
                yield (self.collate_fn or default_collate)(samples)

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")


class Digits(TensorDataset):
    """scikit-learn's bundled 8x8 handwritten digits as (image, label) samples.

    train: the fixed, stratified training split (1,352 samples) or the test
    split (445). Images are float32, standardised per pixel with the training
    split's statistics, shaped (64,) or, with `images=True`, (1, 8, 8) for a
    CNN; labels are int64 in 0..9. Needs scikit-learn (the `examples` extra),
    which ships the data: nothing is downloaded.
    """

    classes = tuple(range(10))

    def __init__(self, train: bool = True, images: bool = False) -> None:
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise ImportError("Digits needs scikit-learn, which bundles the images: "
                              "pip install scikit-learn (or the 'examples' extra)") from None
        from nn.experiments.data import load_digits
        x_train, y_train, x_test, y_test = load_digits(images=images)
        self.train = bool(train)
        super().__init__(*((x_train, y_train) if train else (x_test, y_test)))

    def __repr__(self) -> str:
        return f"Digits({'train' if self.train else 'test'}, {len(self)} samples)"
