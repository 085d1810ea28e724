"""The bad-input table: each row a typical mistake, the error it must raise, and what
the message must say. The message starts with the function or op the user called
and names the shapes or values at fault, so nothing surfaces as a bare numpy error."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
import optim


def t(*shape):
    return ag.tensor(np.ones(shape), requires_grad=True)


def ints(*values):
    return ag.tensor(np.array(values))


def hook_that_reshapes():
    x = t(3)
    x.register_hook(lambda g: ag.ones(5))
    (x * 2).sum().backward()


class NoReturn(ag.Function):
    @staticmethod
    def forward(ctx, x):
        x * 2  # the return forgotten


class NoBackward(ag.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2


class TextGradient(NoBackward):
    @staticmethod
    def backward(ctx, g):
        return "oops"


def backward_twice():
    y = (t(2) * t(2)).sum()
    y.backward()
    y.backward()


TABLE = [
    # (what, call, error type, message pattern)
    ("broadcast", lambda: t(2, 3) + t(4, 3), ValueError,
     r"^add: .*shapes \(2, 3\) and \(4, 3\)"),
    ("matmul inner sizes", lambda: t(2, 3) @ t(4, 5), ValueError,
     r"^matmul: .*size 4 is different from 3.*\(2, 3\) and \(4, 5\)"),
    ("reshape to another size", lambda: t(2, 3).reshape(4, 2), ValueError,
     r"^reshape: cannot reshape an array of shape \(2, 3\) \(size 6\) into shape \(4, 2\)"),
    ("reshape with -1", lambda: t(2, 3).reshape(4, -1), ValueError,
     r"^reshape: cannot reshape an array of shape \(2, 3\) \(size 6\) into shape \(4, -1\)"),
    ("broadcast_to", lambda: ag.broadcast_to(t(2, 3), (4, 5)), ValueError,
     r"^broadcast_to: cannot broadcast an array of shape \(2, 3\) to shape \(4, 5\)"),
    ("clip bound shape", lambda: ag.clip(t(2, 3), np.zeros((4, 5)), 1), ValueError,
     r"^clip: a_min of shape \(4, 5\) and a_max of shape \(\) do not broadcast against "
     r"the input of shape \(2, 3\)"),
    ("clip tensor bound shape", lambda: ag.clip(t(2, 3), None, t(4, 5)), ValueError,
     r"^clip: a_max of shape \(4, 5\) does not broadcast against the input of shape "
     r"\(2, 3\)"),
    ("dot inner sizes", lambda: ag.dot(t(2, 3), t(4, 5)), ValueError,
     r"^dot: shapes \(2, 3\) and \(4, 5\) are not aligned"),
    ("take_along_axis shapes", lambda: ag.take_along_axis(t(2, 3), np.zeros((5, 5), int), 1),
     ValueError, r"^take_along_axis: indices of shape \(5, 5\) do not fit an input of shape "
     r"\(2, 3\) along axis 1"),
    ("reduction axis", lambda: t(2, 3).sum(axis=2), ValueError,
     r"^sum: axis 2 is out of bounds .* \(2, 3\)"),
    ("index out of bounds", lambda: t(2, 3)[5], IndexError,
     r"^getitem: index 5 is out of bounds for axis 0 with size 2"),
    ("concatenate sizes", lambda: ag.concatenate([t(2, 3), t(2, 4)], axis=0), ValueError,
     r"^concatenate: .*\(2, 3\) and \(2, 4\)"),
    ("stack shapes", lambda: ag.stack([t(2, 3), t(3, 3)]), ValueError,
     r"^stack: .*\(2, 3\) and \(3, 3\)"),
    ("split sections", lambda: ag.split(t(5), 2), ValueError,
     r"^split: an axis of length 5 does not divide into 2"),
    ("tensor of text", lambda: ag.tensor("abc"), TypeError,
     r"^tensor: data must be numbers or booleans, got str"),
    ("ragged tensor", lambda: ag.tensor([[1, 2], [3]]), ValueError,
     r"^tensor: cannot make an array of list data: .*inhomogeneous"),
    ("backward of a vector", lambda: (t(3) * 2).backward(), RuntimeError,
     r"^backward: grad can be implicitly created only for a one-element output, "
     r"got shape \(3,\)"),
    ("backward gradient shape", lambda: (t(2) * 2).backward(gradient=np.ones(3)),
     ValueError, r"^backward: gradient has shape \(3,\) but the output has shape \(2,\)"),
    ("backward twice", backward_twice, RuntimeError,
     r"^Trying to backward through the graph a second time.*retain_graph=True"),
    ("backward without grad", lambda: ag.tensor([1.0]).sum().backward(), RuntimeError,
     r"^backward: the tensor does not require grad"),
    ("grad of a vector function", lambda: ag.grad(lambda x: x * 2)(np.ones(3)), TypeError,
     r"^grad: f must return a one-element Tensor, got \(3,\)"),
    ("argnums past the arguments", lambda: ag.jacobian(lambda x: x, argnums=3)(np.ones(2)),
     IndexError, r"^argnums 3 is out of range for a call with 1 positional argument$"),
    ("negative shape", lambda: ag.zeros(-1, 2), ValueError,
     r"^zeros: a shape is non-negative integers, got \(-1, 2\)"),
    ("float shape", lambda: ag.full(3.5, 1.0), TypeError, r"^full: a shape is integers, got 3.5"),
    ("eye size", lambda: ag.eye(-2), ValueError, r"^eye: a shape is non-negative integers"),
    ("arange step", lambda: ag.arange(0, 5, 0), ValueError, r"^arange: step must not be 0"),
    ("concatenate one tensor", lambda: ag.concatenate(t(2, 3)), TypeError,
     r"^concatenate: expects a sequence of tensors, such as \[a, b\], got one of shape "
     r"\(2, 3\)"),
    ("split axis", lambda: ag.split(t(4), 2, axis=1), ValueError,
     r"^split: axis 1 is out of range for an input of shape \(4,\)"),
    ("hook not callable", lambda: t(2).register_hook(5), TypeError,
     r"^register_hook: the hook must be callable, got int"),
    ("backward gradient of text", lambda: (t(2) * 2).backward(gradient="ab"), TypeError,
     r"^backward: gradient must be a Tensor or an array of numbers, got str"),
    ("argnums of text", lambda: ag.grad(lambda x: x.sum(), argnums="x")(np.ones(2)),
     TypeError, r"^argnums must be an int or a tuple of ints, got 'x'"),
    ("negative seed", lambda: ag.manual_seed(-1), ValueError,
     r"^manual_seed: the seed must be a non-negative integer, got -1"),
    ("pad widths per axis", lambda: ag.pad(t(2, 3), ((1, 1),) * 3), ValueError,
     r"^pad: pad_width must be \(before, after\) pairs of non-negative ints, one per axis "
     r"\(or one for all\), got \(\(1, 1\), \(1, 1\), \(1, 1\)\) \(input shapes \(2, 3\)\)"),
    ("jvp tangent shape", lambda: ag.jvp(ag.exp, (np.ones(3),), (np.ones(4),)), ValueError,
     r"^jvp: tangent 0 has shape \(4,\) but primal 0 has shape \(3,\)"),
    ("jvp without tuples", lambda: ag.jvp(ag.exp, np.ones(3), np.ones(3)), TypeError,
     r"^jvp: primals and tangents must be tuples"),
    ("hvp vector count", lambda: ag.hvp(lambda x: (x * x).sum(), (np.ones(3),),
                                        (np.ones(3), np.ones(3))), ValueError,
     r"^hvp: 1 primals but 2 vectors"),
    ("vjp cotangent shape", lambda: ag.vjp(ag.exp, np.ones(3))[1](np.ones(4)), ValueError,
     r"^vjp: cotangent 0 has shape \(4,\) but output 0 has shape \(3,\)"),
    ("gradients grad_outputs count", lambda: ag.gradients(
        [t(2) * 2, t(2) * 3], [t(2)], grad_outputs=[np.ones(2)]), ValueError,
     r"^gradients: 2 outputs but 1 grad_outputs"),
    ("item of a vector", lambda: t(3).item(), ValueError,
     r"^item: a Tensor of 3 elements \(shape \(3,\)\) is not one Python number"),
    ("hook changes the shape", hook_that_reshapes, RuntimeError,
     r"^register_hook: hook '<lambda>' returned a gradient of shape \(5,\) for one of "
     r"shape \(3,\)"),
    ("custom forward returns nothing", lambda: NoReturn.apply(t(2)), TypeError,
     r"^NoReturn.forward must return an ndarray of numbers, got NoneType"),
    ("custom op without backward", lambda: NoBackward.apply(t(2)).sum().backward(),
     NotImplementedError, r"^NoBackward.backward is not defined"),
    ("custom gradient of text", lambda: TextGradient.apply(t(2)).sum().backward(),
     TypeError, r"^TextGradient.backward: gradient 0 is a str; return a Tensor"),
    ("linear features", lambda: nn.Linear(4, 3)(t(2, 5)), ValueError,
     r"^linear: the input has 5 features .* expects 4"),
    ("conv channels", lambda: nn.Conv2d(3, 4, 3)(t(1, 2, 8, 8)), ValueError,
     r"^conv2d: .*got \(1, 2, 8, 8\) and \(4, 3, 3, 3\)"),
    ("conv window too large", lambda: nn.Conv2d(1, 1, 5)(t(1, 1, 3, 3)), ValueError,
     r"^conv2d: a window of 5 .* does not fit in an input of size 3"),
    ("conv stride 0", lambda: F.conv2d(t(1, 1, 4, 4), t(1, 1, 3, 3), stride=0), ValueError,
     r"^conv2d: stride must be at least 1 and padding at least 0, got stride 0 and "
     r"padding 0 \(input shapes \(1, 1, 4, 4\) and \(1, 1, 3, 3\) and None\)"),
    ("pool of a 3-d input", lambda: nn.MaxPool2d(2)(t(1, 3, 3)), ValueError,
     r"^max_pool2d: expects an \(N, C, H, W\) input, got shape \(1, 3, 3\)"),
    ("batch norm channels", lambda: nn.BatchNorm1d(4)(t(8, 5)), ValueError,
     r"^batch_norm: the input has 5 channels \(axis 1 of shape \(8, 5\)\) but "
     r"running_mean has shape \(4,\)"),
    ("unpool index past the plane", lambda: F.max_unpool2d(
        t(1, 1, 2, 2), ag.tensor(np.array([[[[0, 1], [2, 99]]]])), 2), ValueError,
     r"^max_unpool2d: an index falls outside the output plane \(4, 4\) \(indices in "
     r"\[0, 99\]\)"),
    ("layer norm shape", lambda: nn.LayerNorm(4)(t(2, 5)), ValueError,
     r"^layer_norm: input shape \(2, 5\) does not end with the normalized shape \(4,\)"),
    ("embedding index", lambda: nn.Embedding(5, 3)(ints(1, 7)), IndexError,
     r"^embedding: index 7 is out of range for 5 embeddings"),
    ("negative embedding index", lambda: nn.Embedding(5, 3)(ints(-1)), IndexError,
     r"^embedding: index -1 is out of range .* negative indices do not wrap"),
    ("embedding float index", lambda: nn.Embedding(5, 3)(ag.tensor([1.0])), TypeError,
     r"^embedding: indices must be integers, got dtype float32"),
    ("cross-entropy class", lambda: F.cross_entropy(t(4, 3), ints(0, 1, 2, 3)), IndexError,
     r"^cross_entropy: target class 3 is out of range for 3 classes \(input shape \(4, 3\)"),
    ("cross-entropy target shape", lambda: F.cross_entropy(t(4, 3), ints(0, 1, 2)),
     ValueError, r"^cross_entropy: target shape \(3,\) does not fit input shape \(4, 3\)"),
    ("mse shapes", lambda: F.mse_loss(t(4, 3), t(4, 2)), ValueError,
     r"^mse_loss: target shape \(4, 2\) does not match input shape \(4, 3\)"),
    ("bce of a non-probability", lambda: F.binary_cross_entropy(t(4) * 2, t(4)), ValueError,
     r"^binary_cross_entropy: every input must be a probability in \[0, 1\], got values "
     r"in \[2.0, 2.0\]"),
    ("reduction name", lambda: F.mse_loss(t(2), t(2), reduction="avg"), ValueError,
     r"^mse_loss: reduction must be 'mean', 'sum' or 'none', got 'avg'"),
    ("prelu slopes", lambda: F.prelu(t(2, 3), t(4)), ValueError,
     r"^prelu: weight has 4 parameters but the input of shape \(2, 3\) has 3 channels"),
    ("softmax axis", lambda: F.softmax(t(2, 3), axis=3), ValueError,
     r"^softmax: axis 3 is out of bounds .* \(2, 3\)"),
    ("learning rate", lambda: optim.SGD([t(2)], lr=-1), ValueError,
     r"^Invalid learning rate: -1"),
    ("betas", lambda: optim.Adam([t(2)], betas=(1.0, 0.9)), ValueError,
     r"^Invalid betas: \(1.0, 0.9\)"),
    ("no parameters", lambda: optim.SGD([], lr=0.1), ValueError,
     r"^SGD got an empty parameter list"),
    ("StepLR step size", lambda: optim.lr_scheduler.StepLR(optim.SGD([t(2)], lr=0.1), 0),
     ValueError, r"^StepLR: step_size must be a positive integer, got 0"),
    ("state_dict shapes", lambda: nn.Linear(2, 3).load_state_dict(
        {"weight": np.ones((3, 3)), "bias": np.ones(3)}), RuntimeError,
     r"size mismatch for weight: .*\(3, 3\).*\(3, 2\)"),
    ("save into a missing directory", lambda: nn.save({"a": np.ones(2)}, "/nonexistent/x.npz"),
     FileNotFoundError, r"save: cannot write /nonexistent/x.npz"),
    ("save to no path", lambda: nn.save({"a": np.ones(2)}, None), TypeError,
     r"^save: path must be a str or os.PathLike, got NoneType"),
    ("state_dict value that is text", lambda: nn.Linear(2, 2).load_state_dict(
        {"weight": "abc", "bias": np.zeros(2)}), TypeError,
     r"^load_state_dict: 'weight' must be an array of numbers, got str"),
    ("grad of a non-function", lambda: ag.grad(3), TypeError,
     r"^grad: f must be a callable, got int 3"),
    ("hessian of a non-function", lambda: ag.hessian("f"), TypeError,
     r"^hessian: f must be a callable, got str 'f'"),
    ("jacobian of a float", lambda: ag.jacobian(lambda x: 1.0)(t(2)), TypeError,
     r"^jacobian: f must return a Tensor or a tuple of Tensors, got float"),
    ("vjp of a float", lambda: ag.vjp(lambda x: 1.0, t(2)), TypeError,
     r"^vjp: f must return a Tensor or a tuple of Tensors, got float"),
    ("hvp of a vector", lambda: ag.hvp(lambda x: x * 2, (t(2),), (t(2),)), TypeError,
     r"^hvp: f must return a one-element Tensor, got \(2,\)"),
    ("an op on None", lambda: F.relu(None), TypeError,
     r"^relu: input 0 must be a Tensor, an array or a number, got NoneType"),
    ("matmul with None", lambda: t(2) @ None, TypeError,
     r"^matmul: input 1 must be a Tensor, an array or a number, got NoneType"),
    ("an op on text", lambda: ag.sigmoid("abc"), TypeError,
     r"^sigmoid: input 0 must be a Tensor, an array or a number, got str"),
    ("len of a 0-d tensor", lambda: len(ag.tensor(1.0)), TypeError,
     r"^len\(\) of a 0-d tensor"),
    ("unknown dtype", lambda: ag.zeros(2, dtype="floaty"), TypeError,
     r"^zeros: dtype 'floaty' is not a numpy dtype"),
    ("unknown dtype of data", lambda: ag.tensor([1.0], dtype="floaty"), TypeError,
     r"^tensor: dtype 'floaty' is not a numpy dtype"),
    ("complex gradient for a real output", lambda: (t(1) * 2).backward(np.array([1 + 1j])),
     TypeError, r"^backward: gradient is complex128 for a float64 output"),
]


def test_a_bias_may_be_none_where_the_op_has_no_bias():
    # None is an input only where the forward has no default for it
    with pytest.raises(ValueError, match=r"^linear: the input has 3 features"):
        F.linear(t(2, 3), t(4, 2), None)



@pytest.mark.parametrize(("call", "error", "pattern"), [row[1:] for row in TABLE],
                         ids=[row[0] for row in TABLE])
def test_bad_input_raises_a_clear_error(call, error, pattern):
    with pytest.raises(error) as info:
        call()
    assert info.type is error  # not a subclass from deeper down
    assert info.match(pattern)
