"""nn.Module: registration, traversal, state_dict, modes, dtype, repr, hooks."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import autograd_core as ag
import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(np.ones(4))
        self.register_buffer("steps", np.zeros((), np.int64))
        self.plain = 3  # not registered

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


def test_registration_and_names_follow_pytorch():
    m = Block()
    assert [n for n, _ in m.named_parameters()] == [
        "scale", "fc.weight", "fc.bias", "bn.weight", "bn.bias"]
    assert list(m.state_dict()) == [
        "scale", "steps", "fc.weight", "fc.bias", "bn.weight", "bn.bias",
        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in m.named_modules()] == ["", "fc", "bn"]
    assert [n for n, _ in m.named_children()] == ["fc", "bn"]
    assert list(m.children()) == [m.fc, m.bn]
    assert len(list(m.modules())) == 3
    assert m.plain == 3 and "plain" not in dict(m.named_parameters())


def test_sequential_and_modulelist():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and seq[-1] is seq[2]
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight",
                                                      "2.bias"]
    assert [type(m) for m in seq] == [nn.Linear, nn.ReLU, nn.Linear]
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["enc.weight", "enc.bias"]
    assert seq(ag.ones(5, 2)).shape == (5, 1)
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and len(list(ml.parameters())) == 8
    assert [n for n, _ in ml.named_parameters()][-1] == "3.bias"
    with pytest.raises(IndexError):
        seq[3]


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2


def test_parameter_dtypes_and_sharing():
    a = np.zeros((2, 2))
    p = nn.Parameter(a)
    assert p.dtype == np.float64 and p.requires_grad and isinstance(p, ag.Tensor)
    assert np.shares_memory(p.data, a)
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32
    assert not nn.Parameter(ag.ones(2), requires_grad=False).requires_grad
    assert "Parameter containing" in repr(p)


def test_assignment_rules():
    m = Block()
    with pytest.raises(TypeError):
        m.scale = ag.ones(4)  # a plain tensor cannot replace a parameter
    m.scale = None
    assert "scale" not in dict(m.named_parameters())
    m.steps = np.ones((), np.int64)
    assert m.state_dict()["steps"] == 1
    del m.fc
    assert "fc.weight" not in m.state_dict()

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(AttributeError, match="__init__"):
        Early()


def test_state_dict_round_trip_copies():
    a, b = Block(), Block()
    sd = a.state_dict()
    sd["fc.weight"][...] = 7  # a copy: the model is untouched
    assert not np.any(a.fc.weight.data == 7)
    weight_array = b.fc.weight.data
    b.load_state_dict(a.state_dict())
    assert b.fc.weight.data is weight_array  # copied in place
    for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items()):
        assert k == k2 and v.dtype == v2.dtype
        np.testing.assert_array_equal(v, v2)


def test_load_state_dict_keeps_dtype():
    m = nn.Linear(2, 2)
    sd = {k: v.astype(np.float64) + 1 for k, v in m.state_dict().items()}
    m.load_state_dict(sd)
    assert m.weight.dtype == np.float32
    np.testing.assert_allclose(m.weight.data, sd["weight"], rtol=1e-6)


def test_load_state_dict_errors_name_every_key_and_change_nothing():
    m = Block()
    before = m.state_dict()
    sd = m.state_dict()
    del sd["fc.bias"], sd["bn.running_var"]
    sd["extra.weight"] = np.zeros(1)
    sd["fc.weight"] = np.zeros((9, 9))
    sd["scale"] = sd["scale"] + 5
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    for key in ("fc.bias", "bn.running_var", "extra.weight", "fc.weight", "(9, 9)", "(4, 3)"):
        assert key in msg
    np.testing.assert_array_equal(m.scale.data, before["scale"])  # nothing loaded
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict(sd, strict=False)
    sd["fc.weight"] = before["fc.weight"]
    result = m.load_state_dict(sd, strict=False)
    assert set(result.missing_keys) == {"fc.bias", "bn.running_var"}
    assert result.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(m.scale.data, before["scale"] + 5)


def test_train_eval_zero_grad():
    m = Block()
    assert m.training and m.bn.training
    assert m.eval() is m and not m.bn.training
    m.train()
    assert m.fc.training
    m(ag.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_to_double_float_keep_parameter_objects():
    m = Block()
    weight = m.fc.weight
    m.double()
    assert m.fc.weight is weight and weight.dtype == np.float64
    assert m.bn.running_mean.dtype == np.float64
    assert m.bn.num_batches_tracked.dtype == np.int64
    assert m(ag.randn(4, 3).double()).dtype == np.float64
    m.float()
    assert weight.dtype == np.float32 and m.state_dict()["bn.running_var"].dtype == np.float32


def test_apply_visits_children_first():
    seen = []
    Block().apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "BatchNorm1d", "Block"]


def test_repr_is_pytorch_style():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    assert repr(seq) == ("Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                         "  (1): ReLU()\n)")
    assert repr(nn.Linear(1, 1, bias=False)) == \
        "Linear(in_features=1, out_features=1, bias=False)"
    nested = repr(nn.Sequential(nn.Sequential(nn.Flatten())))
    assert "    (0): Flatten(start_axis=1, end_axis=-1)" in nested


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    handle = lin.register_forward_hook(lambda mod, inputs, out: calls.append(out.shape))
    lin(ag.ones(3, 2))
    assert calls == [(3, 2)]
    lin.register_forward_hook(lambda mod, inputs, out: out * 0)
    assert not np.any(lin(ag.ones(1, 2)).data)
    handle.remove()
    lin(ag.ones(1, 2))
    assert len(calls) == 2


def test_deepcopy_gives_independent_parameters():
    m = Block()
    c = copy.deepcopy(m)
    assert isinstance(c.fc.weight, nn.Parameter) and c.fc.weight is not m.fc.weight
    c.fc.weight.data[...] = 0
    assert np.any(m.fc.weight.data)
    assert c.fc.weight is dict(c.named_parameters())["fc.weight"]


# -- clear errors for bad input, raised where the user made the mistake ---------------
def test_containers_refuse_non_modules_naming_the_position():
    with pytest.raises(TypeError, match=r"Sequential: argument 1 is the class ReLU, not a "
                                        r"module; write nn\.ReLU\(\)"):
        nn.Sequential(nn.Linear(2, 3), nn.ReLU)
    with pytest.raises(TypeError, match="Sequential: argument 1 is a function"):
        nn.Sequential(nn.Linear(2, 3), lambda x: x)
    with pytest.raises(TypeError, match=r"argument 0 is a list.*Sequential\(\*layers\)"):
        nn.Sequential([nn.Linear(2, 3), nn.ReLU()])
    with pytest.raises(TypeError, match="ModuleList: item 0 is int 3"):
        nn.ModuleList([3])
    with pytest.raises(TypeError, match="ModuleList: item 1 is the class Tanh"):
        nn.ModuleList([nn.ReLU()]).append(nn.Tanh)
    with pytest.raises(TypeError, match="Sequential: module 'act' is the class ReLU"):
        nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.ReLU))
    seq = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.ReLU()))  # still fine
    assert [n for n, _ in seq.named_children()] == ["fc", "act"]


def test_load_state_dict_wants_a_dict():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"load_state_dict: expected a dict of arrays "
                                        r"\(a state_dict\), got Linear; pass model\.state_dict"):
        m.load_state_dict(nn.Linear(2, 3))
    for bad, name in [(None, "None"), ([1, 2], "list")]:
        with pytest.raises(TypeError, match=f"got {name}"):
            m.load_state_dict(bad)


def test_to_refuses_non_float_dtypes():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="Module.to: only floating point dtypes, got int32"):
        m.to(np.int32)
    with pytest.raises(TypeError, match="Module.to: expected a device such as 'cpu'"):
        m.to("no such dtype")
    with pytest.raises(TypeError, match="Module.to: expected a device and/or a dtype"):
        m.to(np.float64, np.float32)
    assert m.weight.dtype == np.float32


# -- wrongly typed arguments ----------------------------------------------------------


@pytest.mark.parametrize("cls", [nn.Sequential, nn.ModuleList])
def test_a_string_index_is_a_type_error_naming_the_container(cls):
    mods = [nn.Linear(2, 2), nn.Linear(2, 2)]
    container = cls(*mods) if cls is nn.Sequential else cls(mods)
    message = rf"{cls.__name__}: index must be an int or a slice, got str"
    with pytest.raises(TypeError, match=message):
        container["a"]


def test_a_module_list_string_index_on_assignment_is_a_type_error():
    ml = nn.ModuleList([nn.Linear(2, 2)])
    with pytest.raises(TypeError, match=r"ModuleList: index must be an int or a slice, got str"):
        ml["0"] = nn.Linear(2, 2)


def test_numpy_int_index_still_works():
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    assert isinstance(seq[np.int64(1)], nn.ReLU)


def test_train_with_a_non_bool_mode_is_a_value_error_like_pytorch():
    m = nn.Linear(2, 3)
    with pytest.raises(ValueError, match=r"train: mode must be a bool, got 'no'"):
        m.train("no")
    assert m.training
    m.train(np.bool_(False))
    assert not m.training
