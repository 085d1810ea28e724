"""nn.utils.data: Dataset, TensorDataset and DataLoader, as torch.utils.data."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
import optim
from nn.utils.data import DataLoader, Dataset, TensorDataset


def _data(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    return x, y


def _rows(loader):
    return [yb.tolist() for _, yb in loader]


def test_old_names_stay_importable():
    from nn.utils import (  # noqa: F401
        clip_grad_norm_,
        clip_grad_value_,
        parameters_to_vector,
        vector_to_parameters,
    )
    assert nn.utils.data.DataLoader is DataLoader


def test_tensor_dataset_items_and_len():
    x, y = _data()
    ds = TensorDataset(ag.tensor(x), y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x[3])
    assert yi.item() == 3


def test_tensor_dataset_needs_equal_first_dimensions():
    with pytest.raises(ValueError, match=r"first dimensions differ: 10, 9"):
        TensorDataset(np.zeros((10, 3)), np.zeros(9))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_batches_in_order_with_shapes_and_dtypes():
    x, y = _data()
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [tuple(xb.shape) for xb, _ in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(isinstance(xb, ag.Tensor) and isinstance(yb, ag.Tensor) for xb, yb in batches)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == y.dtype
    assert _rows(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    np.testing.assert_array_equal(batches[1][0].numpy(), x[4:8])


def test_drop_last():
    x, y = _data()
    loader = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert _rows(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(TensorDataset(x, y), batch_size=5, drop_last=True)) == 2


def test_shuffle_covers_every_index_once_per_epoch_and_changes_between_epochs():
    x, y = _data(50)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    ag.manual_seed(1)
    first = [i for b in _rows(loader) for i in b]
    second = [i for b in _rows(loader) for i in b]
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != list(range(50)) and first != second


def test_the_same_seed_gives_the_same_order():
    x, y = _data(30)
    loader = DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True)
    ag.manual_seed(5)
    a = _rows(loader)
    ag.manual_seed(5)
    assert _rows(loader) == a
    ag.manual_seed(6)
    assert _rows(loader) != a


def test_samples_stay_paired_when_shuffled():
    x, y = _data(20)
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=6, shuffle=True):
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])


def test_batch_size_none_yields_samples_unbatched():
    x, y = _data(4)
    loader = DataLoader(TensorDataset(x, y), batch_size=None)
    items = list(loader)
    assert len(loader) == 4 and len(items) == 4
    assert items[2][0].shape == (3,) and items[2][1].item() == 2


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.full(2, float(i)), i * i


def test_a_custom_dataset_is_collated_along_a_new_axis():
    batches = list(DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3
    xb, yb = batches[1]
    assert isinstance(xb, ag.Tensor) and xb.shape == (2, 2)
    assert yb.tolist() == [4, 9]
    assert batches[2][0].shape == (1, 2)


def test_base_dataset_says_what_to_define():
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())


@pytest.mark.parametrize("kwargs, error, message", [
    ({"batch_size": 0}, ValueError, "DataLoader: batch_size must be a positive integer"),
    ({"batch_size": -2}, ValueError, "batch_size"),
    ({"batch_size": 2.5}, ValueError, "batch_size"),
    ({"batch_size": True}, ValueError, "batch_size"),
    ({"shuffle": "yes"}, TypeError, "DataLoader: shuffle must be True or False"),
    ({"drop_last": 1}, TypeError, "drop_last"),
    ({"batch_size": None, "drop_last": True}, ValueError, "batch_size=None"),
])
def test_bad_arguments_are_named(kwargs, error, message):
    x, y = _data()
    with pytest.raises(error, match=message):
        DataLoader(TensorDataset(x, y), **kwargs)


def test_a_dataset_must_be_indexable():
    with pytest.raises(TypeError, match="DataLoader: dataset must have __getitem__"):
        DataLoader(42)


def test_a_training_loop_over_a_loader_learns():
    ag.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = optim.SGD(model.parameters(), lr=0.5)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    for _ in range(20):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    accuracy = (model(ag.tensor(x)).numpy().argmax(axis=1) == y).mean()
    assert accuracy > 0.9


def test_digits_dataset():
    pytest.importorskip("sklearn")
    from nn.utils.data import Digits
    train, test = Digits(train=True), Digits(train=False)
    assert (len(train), len(test)) == (1352, 445)
    image, label = train[0]
    assert image.shape == (64,) and image.dtype == np.float32
    assert label.dtype == np.int64 and 0 <= label.item() <= 9
    xb, yb = next(iter(DataLoader(Digits(images=True), batch_size=32)))
    assert xb.shape == (32, 1, 8, 8) and yb.shape == (32,)
