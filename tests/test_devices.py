"""Devices (API.md, "Devices"): "cpu" is numpy; any array-API library is a backend
(array-api-strict stands in for a GPU here); "cuda" needs CuPy and a GPU."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag

xps = pytest.importorskip("array_api_strict")
DEV = "array_api_strict:device1"


def test_cpu_is_the_default_and_compares_equal_to_its_string():
    t = ag.tensor([1.0, 2.0])
    assert t.device == "cpu" and str(t.device) == "cpu"
    assert ag.zeros(2, 3, device="cpu").device == "cpu"
    assert t.cpu() is t and t.to("cpu") is t


def test_every_creation_function_takes_device():
    for t in (ag.zeros(2, device=DEV), ag.ones(2, device=DEV), ag.full((2,), 3.0, device=DEV),
              ag.randn(2, device=DEV), ag.rand(2, device=DEV), ag.arange(3, device=DEV),
              ag.eye(2, device=DEV), ag.tensor([1.0], device=DEV),
              ag.linspace(0, 1, 3, device=DEV), ag.zeros_like(ag.ones(2), device=DEV)):
        assert t.device == DEV, t
        assert type(t.data).__module__.startswith("array_api_strict")


def test_as_tensor_keeps_the_arrays_library_and_device():
    a = xps.asarray([1.0, 2.0], device=xps.Device("device1"))
    t = ag.as_tensor(a)
    assert t.data is a and t.device == DEV
    assert ag.zeros_like(t).device == DEV


def test_to_moves_and_the_gradient_moves_back():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(DEV)
    assert y.device == DEV and y.grad_fn.name == "to_device"
    (y * y).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(y.cpu().numpy(), [1.0, 2.0])


def test_to_takes_a_dtype_a_device_or_both():
    x = ag.tensor([1.0, 2.0])
    assert x.to(ag.float64).dtype == np.float64
    both = x.to(DEV, ag.float64)
    assert both.device == DEV and both.cpu().dtype == np.float64


def test_numpy_of_a_device_tensor_says_to_call_cpu():
    with pytest.raises(RuntimeError, match=r"call \.cpu\(\) first"):
        ag.ones(2, device=DEV).numpy()
    assert ag.ones(2, device=DEV).item if False else True
    assert ag.full((1,), 3.0, device=DEV).item() == 3.0  # a host read the user asked for


def test_two_devices_in_one_op_raise_naming_both():
    a = ag.ones(2, device=DEV)
    with pytest.raises(RuntimeError, match=f"cpu and {DEV}|{DEV} and cpu"):
        a + ag.ones(2)
    with pytest.raises(RuntimeError, match="array_api_strict:CPU_DEVICE"):
        a + ag.ones(2, device="array_api_strict:CPU_DEVICE")
    with pytest.raises(RuntimeError, match="cpu"):
        a + np.ones(2)  # nothing moves silently, an ndarray neither


def test_unknown_devices_and_cuda_without_a_gpu_raise_clearly():
    with pytest.raises(RuntimeError, match="unknown device 'tpu'"):
        ag.zeros(2, device="tpu")
    with pytest.raises(RuntimeError, match="unknown device"):
        ag.zeros(2, device="array_api_strict:device9")
    if not ag.cuda.is_available():
        assert ag.cuda.device_count() == 0
        with pytest.raises(RuntimeError, match="CuPy|GPU"):
            ag.zeros(2, device="cuda")


def test_grad_assignment_is_checked_as_pytorchs():
    x = ag.zeros(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2, 3\)"):
        x.grad = ag.zeros(3)
    with pytest.raises(TypeError, match="dtype float64"):
        x.grad = ag.zeros(2, 3, dtype=np.float64)
    with pytest.raises(RuntimeError, match=DEV):
        x.grad = ag.zeros(2, 3, device=DEV)
    x.grad = ag.ones(2, 3)
    assert x.grad.shape == (2, 3)


def test_a_zero_d_gradient_is_an_array():
    a, b = ag.tensor(2.0, requires_grad=True), ag.tensor(3.0, requires_grad=True)
    (a * b).backward()
    assert isinstance(a.grad.data, np.ndarray) and np.asarray(a.grad).item() == 3.0


def test_importing_the_core_needs_neither_nn_optim_nor_graphviz():
    import subprocess
    import sys
    code = ("import sys, autograd_core; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('nn', 'optim', 'graphviz')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
