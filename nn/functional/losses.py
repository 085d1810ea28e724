"""Loss functions, PyTorch's formulas and defaults, each with `reduction`.

reduction='mean' averages over elements (for class weights: divides by the
sum of the weights of the targets, as PyTorch does; an empty mean is nan),
'sum' adds, 'none' keeps one loss per element. Losses on logits are computed
from the logits (max(z, 0) - z y + log1p(e^-|z|), log-softmax shifted by the
max), never by taking the log of a probability.

Two fused ops carry the hot paths: `softmax_cross_entropy` (class targets, given
as their weights B, one row per sample; its gradient is (softmax sum_c B - B) g)
and `bce_with_logits` (gradient sigmoid(z) - y). `bce` clamps its logs at -100
like PyTorch and uses PyTorch's gradient (p - y) / max(p (1 - p), 1e-12).

Numerics: a product whose factor is 0 where the other is infinite (a target of 0
times log 0, (1 - y) times z = inf) is taken as 0 by a where-mask (_xmul), so
+-inf gives the limit and no RuntimeWarning reaches the user. Forwards and rules
use only the array namespace `xp` (rules: registered ops), so every loss runs on
any array-API backend.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import sampling as s
from autograd_core.backend import NUMPY, is_floating
from autograd_core.kernels import numpy_max
from autograd_core.ops.shape import index_outside
from autograd_core.registry import defcomposite, defop
from autograd_core.tensor import Tensor, apply, to_array

from ._inputs import array_of, like, namespace
from .activations import _log_softmax, _shifted, _sum_keep, log_softmax, logsigmoid, relu

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div",
           "cosine_embedding_loss"]

_REDUCTIONS = ("mean", "sum", "none")


# -- helpers ------------------------------------------------------------------
def _shape(x: Any) -> tuple:
    return tuple(array_of(x).shape)


def _check_reduction(name: str, reduction: str, extra: tuple = ()) -> None:
    if reduction not in _REDUCTIONS + extra:
        raise ValueError(f"{name}: reduction must be {_one_of(_REDUCTIONS + extra)}, "
                         f"got {reduction!r}")


def _one_of(choices: tuple) -> str:
    """'a', 'b' or 'c'."""
    quoted = [repr(c) for c in choices]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        if not math.prod(_shape(loss)):  # nothing to average: nan, as PyTorch
            return ag.sum(loss) * math.nan
        return ag.mean(loss)
    if reduction == "sum":
        return ag.sum(loss)
    return loss


def _xmul(xp, a, b):
    """a * b, and 0 where a is 0 (whatever b is: 0 * inf = 0), b masked before the
    product so no inf * 0 is computed."""
    return a * xp.where(a == 0, 0, b)


def _inverse(xp, d, at_zero):
    """1 / d, and at_zero where d is 0 (no division by zero computed)."""
    zero = d == 0
    return xp.where(zero, at_zero, 1 / xp.where(zero, 1, d))


def _target_like(name: str, input: Any, target: Any) -> Any:
    """The target, checked to have the input's shape; a constant float target
    takes the input's dtype (float32 stays float32)."""
    if _shape(target) != _shape(input):
        raise ValueError(f"{name}: target shape {_shape(target)} does not match input "
                         f"shape {_shape(input)}")
    return _constant_like(target, input)


def _check_float_input(name: str, data: Any) -> None:
    """PyTorch's losses on logits and probabilities take floating point input only."""
    if not is_floating(data.dtype):
        raise TypeError(f"{name}: input must be floating point, got dtype {data.dtype}")


def _check_broadcasts(name: str, what: str, weight: Any, input: Any) -> None:
    """weight must broadcast to the input's shape (the result keeps that shape)."""
    ws, xs = _shape(weight), _shape(input)
    try:
        ok = np.broadcast_shapes(ws, xs) == xs
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name}: {what} of shape {ws} does not broadcast to the input's "
                         f"shape {xs}")


def _check_positive_number(name: str, what: str, value: Any, kind: str = "positive") -> None:
    # Before the range check compares it, so a string gets a clear TypeError.
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: {what} must be a {kind} number, got {value!r}")


def _constant_like(x: Any, input: Any) -> Any:
    """x as an array of the input's library, device and float dtype, unless x is a
    Tensor that requires grad."""
    if isinstance(x, Tensor) and x.requires_grad:
        return x
    data = array_of(input)
    if not is_floating(data.dtype):
        return to_array(x)
    x = x.data if isinstance(x, Tensor) else x
    if isinstance(data, np.ndarray):
        # to_array reads a list at the input's dtype directly: a float64 input's list
        # target is not rounded through float32 first
        return to_array(x, data.dtype)
    if hasattr(x, "__array_namespace__") and not isinstance(x, (np.ndarray, np.generic)):
        return namespace(x).astype(x, data.dtype) if x.dtype != data.dtype else x
    return like(data, x)  # host numbers, onto the input's device


def _on_host(a) -> bool:
    """Whether the checks of values can run: on a device each would be a host read,
    a synchronisation inside the training step (PyTorch's CUDA kernels assert there)."""
    return isinstance(a, np.ndarray)


def _host_range(a) -> tuple[float, float]:
    """min and max of a (host reads: for the checks of the public functions only)."""
    xp = namespace(a)
    return float(xp.min(a)), float(xp.max(a))


# -- regression -----------------------------------------------------------------
def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """(input - target)^2."""
    _check_reduction("mse_loss", reduction)
    d = ag.subtract(input, _target_like("mse_loss", input, target))
    return _reduce(d * d, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """|input - target| (gradient 0 where they are equal)."""
    _check_reduction("l1_loss", reduction)
    return _reduce(ag.abs(ag.subtract(input, _target_like("l1_loss", input, target))), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """d^2 / 2 where |d| < delta, else delta (|d| - delta / 2), with d = input - target.

    Written as c^2 / 2 + delta (|d| - |c|) with c = clip(d, -delta, delta): the same
    values, and a gradient of exactly +-delta out to d = +-inf (no 0 * inf from the
    quadratic branch not taken)."""
    _check_reduction("huber_loss", reduction)
    _check_positive_number("huber_loss", "delta", delta)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = ag.subtract(input, _target_like("huber_loss", input, target))
    c = ag.clip(d, -delta, delta)
    return _reduce(0.5 * c * c + delta * (ag.abs(d) - ag.abs(c)), reduction)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """huber_loss / beta: d^2 / (2 beta) where |d| < beta, else |d| - beta / 2."""
    _check_reduction("smooth_l1_loss", reduction)
    _check_positive_number("smooth_l1_loss", "beta", beta, "non-negative")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    return huber_loss(input, target, reduction, delta=beta) / beta


# -- binary classification --------------------------------------------------------
# bce(p, y) = -(y max(log p, -100) + (1 - y) max(log(1 - p), -100)); log 0 is never
# computed (p = 0 gives -100 by the mask), so no divide-by-zero warning.
def _clamped_logs(xp, p):
    pos, below_one = p > 0, p < 1
    log_p = xp.where(pos, xp.maximum(xp.log(xp.where(pos, p, 1)), -100), -100)
    log_q = xp.where(below_one, xp.maximum(xp.log1p(-xp.where(below_one, p, 0)), -100), -100)
    return log_p, log_q


def _bce(xp, p, y):
    log_p, log_q = _clamped_logs(xp, p)
    return -(y * log_p + (1 - y) * log_q)


def _bce_target_grad(xp, g, ans, p, y):
    log_p, log_q = _clamped_logs(xp, p)
    return g * (log_q - log_p)


_BCE = defop("bce", _bce,
             lambda xp, g, ans, p, y: g * (p - y) / xp.maximum(p * (1 - p), 1e-12),
             _bce_target_grad,
             sample=lambda rng: (lambda shape: ((rng.uniform(0.05, 0.95, shape),
                                                 rng.uniform(0, 1, shape)), {}))(s.shape(rng)))


def binary_cross_entropy(input: Any, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """-w (y log p + (1 - y) log(1 - p)) for probabilities p; each log clamped at -100."""
    _check_reduction("binary_cross_entropy", reduction)
    p = array_of(input)
    _check_float_input("binary_cross_entropy", p)
    target = _target_like("binary_cross_entropy", input, target)
    y = array_of(target)
    if math.prod(y.shape) and _on_host(y):
        lo, hi = _host_range(y)
        if not (lo >= 0 and hi <= 1):
            raise ValueError(f"binary_cross_entropy: every target must be in [0, 1], got "
                             f"values in [{lo}, {hi}] (target shape {tuple(y.shape)})")
    if weight is not None:
        _check_broadcasts("binary_cross_entropy", "weight", weight, input)
    if math.prod(p.shape) and _on_host(p):
        lo, hi = _host_range(p)
        if not (lo >= 0 and hi <= 1):
            raise ValueError(f"binary_cross_entropy: every input must be a probability in "
                             f"[0, 1], got values in [{lo}, {hi}] (input shape "
                             f"{tuple(p.shape)}); for logits use "
                             f"binary_cross_entropy_with_logits")
    loss = _BCE(input, target)
    if weight is not None:
        loss = loss * _constant_like(weight, input)
    return _reduce(loss, reduction)


# bce_with_logits(z, y) = max(z, 0) - z y + log1p(e^-|z|), the first two terms as
# ((1 - y) if z > 0 else -y) z, 0 where that weight is 0, then PyTorch's value at
# infinite logits: (+inf, 0) is inf; (-inf, y) and (+inf, 1) nan, where PyTorch's
# formula meets inf - inf or inf * 0 (see _torch_nan). d/dz = sigmoid(z) - y, d/dy = -z.
def _bce_with_logits(xp, z, y):
    weight = xp.where(z > 0, 1 - y, -y)  # max(z, 0) - z y = weight z
    loss = _xmul(xp, weight, z) + xp.log1p(xp.exp(-xp.abs(z)))
    return xp.where(_torch_nan(z, y), math.nan, loss)


def _torch_nan(z, y):
    """Where PyTorch's binary_cross_entropy_with_logits is nan: a -inf logit, or a
    +inf one with target 1 ((1 - y) z + ... meets inf - inf or 0 * inf)."""
    return (z == -math.inf) | ((z == math.inf) & (y == 1))


_BCE_LOGITS = defop(
    "bce_with_logits", _bce_with_logits,
    lambda xp, g, ans, z, y: g * (xp.sigmoid(z) - y),
    lambda xp, g, ans, z, y: -_xmul(xp, g, z),
    sample=lambda rng: (lambda shape: ((s.values(rng, shape, (-4.0, 4.0, ())),
                                        rng.uniform(0, 1, shape)), {}))(s.shape(rng)))


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of sigmoid(input), computed from the logits.

    With pos_weight: (1 - y) z + (1 + (pos_weight - 1) y) softplus(-z), PyTorch's form,
    computed as (1 - y) max(z, 0) + pos_weight y max(-z, 0) + (1 + (pos_weight - 1) y)
    log1p(e^-|z|), products with a zero weight taken as 0.
    """
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    _check_float_input(name, array_of(input))
    target = _target_like(name, input, target)
    if weight is not None:
        _check_broadcasts(name, "weight", weight, input)
    if pos_weight is not None:
        _check_broadcasts(name, "pos_weight", pos_weight, input)
    if pos_weight is None:
        loss = _BCE_LOGITS(input, target)
    else:
        y = ag.as_tensor(target)
        pw = _constant_like(pos_weight, input)
        log_weight = y * (pw - 1) + 1  # Tensor first: other arrays do not defer to it
        softplus_tail = -logsigmoid(ag.abs(input))  # log1p(e^-|z|)
        loss = (_masked_product(1 - y, relu(input))
                + _masked_product(y * pw, relu(ag.negative(input)))
                + log_weight * softplus_tail)
        # PyTorch's nan, added as a constant so the gradient still reaches every term
        nan = _torch_nan(array_of(input), array_of(y))
        loss = loss + ag.where(nan, math.nan, ag.zeros_like(loss))
    if weight is not None:
        loss = loss * _constant_like(weight, input)
    return _reduce(loss, reduction)


def _masked_product(a: Tensor, b: Tensor) -> Tensor:
    """_xmul on Tensors: a * b, 0 where a is 0."""
    return a * ag.where(array_of(a) == 0, 0, b)


# -- multi-class classification -----------------------------------------------------
# The loss of sample i is a_i lse_i - sum_c B_ic z_ic for logits z shifted by their max,
# with B the weights of its target classes (B_ic = valid_i ((1 - eps) w_t onehot_ic
# + eps / C w_c)) and a_i = sum_c B_ic; its gradient is (softmax a - B) g. 'mean'
# divides by `denominator` (the summed weights of the targets; nan if it is 0).
def _xent(xp, logits, B, denominator, reduction="mean", keep=True):
    z = _shifted(xp, logits, 1)
    e = xp.exp(z)
    sums = _sum_keep(xp, e, 1)
    a = _sum_keep(xp, B, 1)
    loss = xp.squeeze(a * xp.log(sums) - _sum_keep(xp, _xmul(xp, B, z), 1), axis=1)
    if reduction != "none":
        loss = xp.sum(loss)
        if reduction == "mean":
            loss = loss * _inverse(xp, denominator, math.nan)
    return loss, (e / sums, a) if keep else None


def _class_targets(name: str, logits: Any, target: Any, weight: Any, ignore_index: int,
                   smoothing: float) -> tuple:
    """(B, denominator) for integer targets of (N, C, *d) logits: arrays of the logits'
    library and dtype, built with its namespace (no host reads)."""
    xp = namespace(logits)
    shape, dtype = tuple(logits.shape), logits.dtype
    n = shape[1]
    classes = xp.reshape(xp.arange(n, device=target.device), (1, n) + (1,) * (len(shape) - 2))
    t = xp.expand_dims(target, axis=1)
    onehot = t == classes  # an ignore_index outside [0, C) matches no class
    w = None if weight is None else xp.reshape(_weight_array(name, weight, logits),
                                               classes.shape)
    inside = 0 <= ignore_index < n
    if inside:
        onehot = onehot & (t != ignore_index)
    w_t = xp.astype(onehot, dtype) if w is None else xp.where(onehot, w, 0)
    B = w_t * (1 - smoothing) if smoothing else w_t
    if smoothing:
        valid = (t != ignore_index) if inside else xp.any(onehot, axis=1, keepdims=True)
        w_all = xp.ones((1, n) + (1,) * (len(shape) - 2), dtype=dtype) if w is None else w
        B = B + xp.where(valid, (smoothing / n) * w_all, 0)
    return B, xp.sum(w_t)


def _weight_array(name: str, weight: Any, logits: Any) -> Any:
    """Class weights as an array of the logits' library, device and dtype (a list read
    at that dtype directly)."""
    return array_of(_constant_like(weight, logits))


def _is_integral(a: Any) -> bool:
    """Whether a holds integers (not bools)."""
    if isinstance(a, np.ndarray):  # 0.1 us; numpy's isdtype takes 1.5
        return a.dtype.kind in "iu"
    return namespace(a).isdtype(a.dtype, "integral")


def _check_classes(name: str, logits_shape: tuple, target: Any, ignore_index: int) -> bool:
    """Raise on a target that is neither a class nor ignore_index (a host read).
    Return whether every target is known to be a class (checked on the host, non-empty)."""
    if not logits_shape:
        raise ValueError(f"{name}: input must have a class axis, got shape ()")
    want = logits_shape[:1] + logits_shape[2:] if len(logits_shape) >= 2 else ()
    tshape = tuple(target.shape)
    if tshape != want:
        if name == "cross_entropy" and tshape == logits_shape:
            raise ValueError(f"{name}: target shape {tshape} does not fit input "
                             f"shape {logits_shape}: integer targets are class indices "
                             f"of shape {want}; pass one-hot or probability targets as "
                             f"floats")
        raise ValueError(f"{name}: target shape {tshape} does not fit input shape "
                         f"{logits_shape}: class indices need shape {want}, class "
                         f"probabilities the input's shape")
    n = logits_shape[1] if len(logits_shape) >= 2 else logits_shape[0]
    if not math.prod(tshape) or not _on_host(target):
        return False
    if target.dtype.kind in "iu" and not index_outside(target, n):
        return True  # (one pass: every target a class, the usual case)
    xp = namespace(target)
    bad = (target != ignore_index) & ((target < 0) | (target >= n))
    if bool(xp.any(bad)):
        first = xp.reshape(target, (-1,))[xp.argmax(xp.astype(xp.reshape(bad, (-1,)),
                                                              xp.int8))]
        raise IndexError(f"{name}: target class {int(first)} is out of range for "
                         f"{n} classes (input shape {logits_shape}, target shape "
                         f"{tshape})")
    return False


def _check_weight(name: str, weight: Any, logits_shape: tuple) -> None:
    n = logits_shape[1] if len(logits_shape) >= 2 else logits_shape[0]
    if weight is not None and _shape(weight) != (n,):
        raise ValueError(f"{name}: class weights have shape {_shape(weight)}, expected "
                         f"({n},) for input shape {logits_shape}")


def _sample_xent(rng):
    n, c = int(rng.integers(1, 5)), int(rng.integers(2, 5))
    shape = (n, c) if rng.random() < 0.7 else (n, c, int(rng.integers(1, 3)))
    target = rng.integers(0, c, size=shape[:1] + shape[2:])
    params = _params_xent(rng, c)
    if params["ignore_index"] == 1:  # ignore the first, keep the last
        target.flat[0], target.flat[-1] = 1, 0
    return (s.values(rng, shape, (-3.0, 3.0, ())), target), params


def _params_xent(rng, c):
    return {"weight": rng.uniform(0.5, 2.0, c) if rng.random() < 0.4 else None,
            "ignore_index": [1, -100][int(rng.choice(2, p=[0.4, 0.6]))],
            "label_smoothing": 0.2 if rng.random() < 0.4 else 0.0,
            "reduction": _REDUCTIONS[int(rng.integers(3))]}


def _sample_xent_op(rng):
    (x, t), p = _sample_xent(rng)
    B, den = _class_targets("cross_entropy", x, t, p["weight"], p["ignore_index"],
                            p["label_smoothing"])
    return (x, B, den), {"reduction": p["reduction"]}


def _per_sample(xp, g, ans, denominator, reduction):
    """The upstream gradient of each sample's loss, shaped to broadcast over classes."""
    if reduction == "none":
        return xp.expand_dims(g, axis=1)
    return g * _inverse(xp, denominator, 0) if reduction == "mean" else g


def _xent_grad(xp, g, ans, logits, B, denominator, reduction, saved=None):
    if saved is None:  # create_graph: recomputed, differentiable
        p, a = xp.softmax(logits, axis=1), xp.sum(B, axis=1, keepdims=True)
    else:
        p, a = saved
    return (p * a - B) * _per_sample(xp, g, ans, denominator, reduction)


# d/dB_ic = lse_i - z_ic = -log_softmax_ic; d/ddenominator of total / denominator.
_XENT = defop("softmax_cross_entropy", _xent, _xent_grad,
              lambda xp, g, ans, logits, B, denominator, reduction, saved=None:
                  -xp.log_softmax(logits, axis=1) * _per_sample(xp, g, ans, denominator,
                                                                reduction),
              lambda xp, g, ans, logits, B, denominator, reduction, saved=None:
                  -g * ans * _inverse(xp, denominator, 0) if reduction == "mean"
                  else denominator * 0,
              saves=True, sample=_sample_xent_op)


def cross_entropy(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (N, C) or (N, C, d1, ...) (classes on axis 1).

    target: class indices of shape (N,) / (N, d1, ...), or class probabilities of
    the input's shape. weight: one per class. Targets equal to ignore_index add
    nothing. label_smoothing eps mixes the target with the uniform distribution:
    (1 - eps) target + eps / C. 'mean' over class indices divides by the summed
    weights of the targets, over probabilities by the number of samples (PyTorch).
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], "
                         f"got {label_smoothing}")
    t = array_of(target)
    data = array_of(input)
    _check_float_input("cross_entropy", data)
    shape = tuple(data.shape)
    if is_floating(t.dtype):
        if ignore_index >= 0:
            raise ValueError("cross_entropy: ignore_index is not supported for class "
                             "probability targets")
        _check_weight("cross_entropy", weight, shape)
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    if not _is_integral(t):
        raise TypeError(f"cross_entropy: target must hold integer class indices or float "
                        f"class probabilities, got dtype {t.dtype}")
    all_classes = _check_classes("cross_entropy", shape, t, ignore_index)
    if weight is not None:
        _check_weight("cross_entropy", weight, shape)
    elif all_classes and len(shape) == 2 and not label_smoothing \
            and not 0 <= ignore_index < shape[1]:
        # every target is a class, none ignored: the cheaper op
        return apply(_XENT_CLASSES, (input, t), {"reduction": reduction})
    if len(shape) < 2:  # unbatched (C,) and (): N = 1
        input, t = ag.reshape(input, (1, -1)), namespace(t).reshape(t, (1,))
    B, den = _class_targets("cross_entropy", array_of(input), t, weight, ignore_index,
                            label_smoothing)
    loss = apply(_XENT, (input, B, den), {"reduction": reduction})
    return ag.reshape(loss, ()) if reduction == "none" and len(shape) < 2 else loss


# -- the usual case in one cheaper op: (N, C) logits, every target a class, no class
# weights, no smoothing. loss_i = lse_i - z_i,t_i; gradient (softmax - onehot) g.
def _xent_classes(xp, logits, target, reduction="mean", keep=True):
    n = logits.shape[0]
    z = _shifted(xp, logits, 1)
    e = xp.exp(z)
    sums = _sum_keep(xp, e, 1)
    # z[i, t_i] by integer arrays on both axes (the standard's since 2024.12): 1.8 us at
    # 64 x 10, take_along_axis 5; and the mean as sum / n (1.5 us, xp.mean 4.5)
    picked = z[xp.arange(n, device=logits.device), target]
    loss = xp.reshape(xp.log(sums), (n,)) - picked
    if reduction != "none":
        loss = xp.sum(loss) if reduction == "sum" else xp.sum(loss) / n
    return loss, e / sums if keep else None


def _xent_classes_grad(xp, g, ans, logits, target, reduction, saved=None):
    n, c = logits.shape
    p = xp.softmax(logits, axis=1) if saved is None else saved
    onehot = xp.reshape(target, (n, 1)) == _classes(logits, c)
    scale = xp.reshape(g, (n, 1)) if reduction == "none" else g / n if reduction == "mean" \
        else g
    return (p - xp.astype(onehot, dtype=logits.dtype)) * scale


def _classes(logits, c: int):
    """[0, 1, ..., c - 1] in the logits' library and device (the targets, a column,
    compared with it make the one-hot rows)."""
    data = logits._data if isinstance(logits, Tensor) else logits
    return namespace(data).arange(c, device=data.device)


def _sample_xent_classes(rng):
    n, c = int(rng.integers(1, 5)), int(rng.integers(2, 5))
    return ((s.values(rng, (n, c), (-3.0, 3.0, ())), rng.integers(0, c, size=n)),
            {"reduction": _REDUCTIONS[int(rng.integers(3))]})


# numpy's kernels for the op: the generic pair's values in fewer, cheaper calls (no
# where on the rows' maxima unless one is not finite, the ones from a cached column,
# the one-hot rows subtracted in place). 16 x 10 float32: forward 13.0 -> 10.4 us,
# gradient 6.3 -> 5.1.
@functools.lru_cache(maxsize=16)
def _column_of_ones(c: int, dtype) -> np.ndarray:
    ones = np.ones((c, 1), dtype)
    ones.flags.writeable = False  # shared by every call
    return ones


def _xent_classes_numpy(logits, target, reduction="mean", keep=True):
    n, c = logits.shape
    m = numpy_max(logits, axis=1, keepdims=True)
    if not np.logical_and.reduce(np.isfinite(m), axis=None):  # a row with inf or nan:
        # the generic forward's nan rows
        loss, p = _xent_classes(NUMPY.xp, logits, target, reduction, keep)
        return np.asarray(loss), p
    z = logits - m
    e = np.exp(z)
    sums = np.matmul(e, _column_of_ones(c, e.dtype)) if c <= 32 else \
        np.add.reduce(e, axis=1, keepdims=True)
    loss = np.log(sums).reshape(n) - z[np.arange(n), target]
    if reduction != "none":  # (an array, not numpy's scalar, as apply keeps it)
        loss = np.asarray(np.add.reduce(loss) if reduction == "sum" else
                          np.add.reduce(loss) / n)
    return loss, e / sums if keep else None


def _xent_classes_grad_numpy(xp, g, ans, inputs, needs, reduction, saved=None):
    if needs[0] is None:
        return None, None
    logits, target = inputs
    n = logits.shape[0]
    p = xp.softmax(logits, axis=1) if saved is None else saved
    d = p.copy()  # softmax - onehot, in place: the same rounding as the generic rule
    d[np.arange(n), target] -= 1
    d *= g.reshape(n, 1) if reduction == "none" else g / n if reduction == "mean" else g
    return d, None


_XENT_CLASSES = defop("cross_entropy_classes", _xent_classes, _xent_classes_grad, None,
                      saves=True, sample=_sample_xent_classes,
                      numpy=(_xent_classes_numpy, _xent_classes_grad_numpy))


def _soft_cross_entropy(input, target, weight, reduction, smoothing) -> Tensor:
    """-sum_c w_c t_c log_softmax(x)_c with probability targets; 'mean' divides by N.
    A target of 0 takes nothing from its class, even where log_softmax is -inf."""
    shape = _shape(input)
    if _shape(target) != shape:
        raise ValueError(f"cross_entropy: probability targets need the input's shape "
                         f"{shape}, got {_shape(target)}; integer class indices need "
                         f"shape {shape[:1] + shape[2:]}")
    axis = 1 if len(shape) >= 2 else 0
    n = shape[axis]
    target = _constant_like(target, input)
    if smoothing:
        target = target * (1 - smoothing) + smoothing / n
    terms = _masked_product(ag.as_tensor(target), log_softmax(input, axis=axis))
    if weight is not None:
        # of the input's dtype, as the target: a float64 weight leaves a float32 loss float32
        w = _constant_like(weight, input)
        terms = terms * ag.reshape(w, (n,) + (1,) * (len(shape) - axis - 1))
    if reduction == "none":
        return -ag.sum(terms, axis=axis)
    total = -ag.sum(terms)
    if reduction == "sum":
        return total
    samples = math.prod(shape) // n if n else 0
    return total / samples if samples else total * math.nan


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-w_t input[target] for log-probabilities (N, C) or (N, C, d1, ...); 'mean'
    divides by the summed weights of the targets that are not ignored."""
    _check_reduction("nll_loss", reduction)
    t = array_of(target)
    data = array_of(input)
    _check_float_input("nll_loss", data)
    shape = tuple(data.shape)
    if not _is_integral(t):
        raise TypeError(f"nll_loss: target must hold integer class indices, got dtype "
                        f"{t.dtype}")
    _check_classes("nll_loss", shape, t, ignore_index)
    _check_weight("nll_loss", weight, shape)
    x = input
    if len(shape) < 2:
        x, t = ag.reshape(input, (1, -1)), namespace(t).reshape(t, (1,))
    B, den = _class_targets("nll_loss", array_of(x), t, weight, ignore_index, 0.0)
    loss = -ag.sum(_masked_product(ag.as_tensor(B), x), axis=1)
    if reduction == "none":
        return ag.reshape(loss, ()) if len(shape) < 2 else loss
    total = ag.sum(loss)
    if reduction == "sum":
        return total
    # every target ignored: nan with a zero gradient, as PyTorch
    xp = namespace(den)
    return ag.where(den == 0, math.nan, total * _inverse(xp, den, 0))


# -- divergences and embeddings -------------------------------------------------------
def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """PyTorch's kl_div: pointwise target (log target - input) for log-probabilities
    `input`; 0 where target is 0 (log_target=False). With log_target, the target is
    given as log-probabilities: exp(target) (target - input).

    reduction 'batchmean' divides the sum by the batch size (the first axis), the
    KL divergence proper; 'mean' averages over every element, as PyTorch."""
    _check_reduction("kl_div", reduction, ("batchmean",))
    _check_float_input("kl_div", array_of(input))
    target = _target_like("kl_div", input, target)
    if log_target:  # 0 where the target is 0 (log target -inf): no -inf - (-inf)
        t = ag.as_tensor(target)
        zero = array_of(t) == -math.inf
        t_safe = ag.where(zero, 0, t)
        loss = ag.where(zero, 0, ag.exp(t_safe) * (t_safe - ag.where(zero, 0, input)))
    else:
        # xlogy(t, t) - t input: 0 where t is 0, input and log t masked there
        t = ag.as_tensor(target)
        positive = array_of(t) > 0
        t_safe = ag.where(positive, t, 1)
        loss = ag.where(positive, t_safe * (ag.log(t_safe) - ag.where(positive, input, 0)), 0)
    if reduction == "batchmean":
        shape = _shape(input)
        n = shape[0] if shape else 1
        total = ag.sum(loss)
        return total / n if n else total * math.nan
    return _reduce(loss, reduction)


def cosine_embedding_loss(x1: Any, x2: Any, target: Any, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1;
    the cosine along the last axis of (N, D) or (D,) inputs, PyTorch's eps 1e-12 on
    the squared norms: cos = x1.x2 / sqrt((|x1|^2 + eps)(|x2|^2 + eps))."""
    name = "cosine_embedding_loss"
    _check_reduction(name, reduction)
    s1, s2 = _shape(x1), _shape(x2)
    if s1 != s2 or len(s1) not in (1, 2):
        raise ValueError(f"{name}: x1 {s1} and x2 {s2} must have one shape, (N, D) or (D,)")
    y = array_of(target)
    want = s1[:1] if len(s1) == 2 else ()
    if tuple(y.shape) != want:
        raise ValueError(f"{name}: target shape {tuple(y.shape)} does not match the "
                         f"batch {want} of inputs of shape {s1}")
    eps = 1e-12
    dot = ag.sum(x1 * x2, axis=-1)
    cos = dot / ag.sqrt((ag.sum(x1 * x1, axis=-1) + eps) * (ag.sum(x2 * x2, axis=-1) + eps))
    loss = ag.where(y == 1, 1 - cos, ag.where(y == -1, relu(cos - margin), 0))
    return _reduce(loss, reduction)


# -- registered for the gradient tests ------------------------------------------------
def _sample_nll(rng):
    (x, t), p = _sample_xent(rng)
    del p["label_smoothing"]
    return (_log_softmax(np, x, axis=1), t), p


def _sample_soft_xent(rng):
    (x, _), p = _sample_xent(rng)
    del p["ignore_index"]
    e = np.exp(rng.normal(size=x.shape))
    return (x, e / e.sum(axis=1, keepdims=True)), p


def _sample_pair(domain: tuple = s.REAL, **choices):
    def sample(rng):
        shape = s.shape(rng)
        target = s.values(rng, shape)
        return (target + s.values(rng, shape, domain), target), {
            "reduction": _REDUCTIONS[int(rng.integers(3))], **choices}
    return sample


def _sample_kl_div(rng):
    shape = s.shape(rng, 1)
    log_target = bool(rng.random() < 0.5)
    x = np.log(rng.uniform(0.1, 1.0, shape))
    t = rng.uniform(0.1, 1.0, shape)
    if log_target:
        t = np.log(t)
    reduction = ("mean", "sum", "none", "batchmean")[int(rng.integers(4))]
    return (x, t), {"reduction": reduction, "log_target": log_target}


def _sample_cosine_embedding(rng):
    n, d = int(rng.integers(1, 5)), int(rng.integers(2, 5))
    x1, x2 = s.values(rng, (n, d)), s.values(rng, (n, d))
    y = np.where(rng.random(n) < 0.5, 1, -1)
    margin = (0.0, -0.5)[int(rng.integers(2))]  # below -1 < cos: away from relu's kink
    margin = -1.5 if margin else margin
    if not margin:  # cos - 0 away from 0 where the hinge is taken
        cos = np.sum(x1 * x2, -1) / np.sqrt(np.sum(x1 * x1, -1) * np.sum(x2 * x2, -1))
        y = np.where(np.abs(cos) < 0.1, 1, y)
    return (x1, x2, y), {"margin": margin, "reduction": _REDUCTIONS[int(rng.integers(3))]}


defcomposite("cross_entropy", cross_entropy, sample=_sample_soft_xent)
defcomposite("nll_loss", nll_loss, sample=_sample_nll)
defcomposite("mse_loss", mse_loss, sample=_sample_pair())
defcomposite("l1_loss", l1_loss, sample=_sample_pair(s.NONZERO))
defcomposite("huber_loss", huber_loss, sample=_sample_pair((-3.0, 3.0, (-1.0, 1.0))))
defcomposite("smooth_l1_loss", smooth_l1_loss,
             sample=_sample_pair((-3.0, 3.0, (-0.5, 0.5)), beta=0.5))
defcomposite("kl_div", kl_div, sample=_sample_kl_div)
defcomposite("cosine_embedding_loss", cosine_embedding_loss, sample=_sample_cosine_embedding)
defcomposite("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits,
             sample=lambda rng: (lambda shape: ((s.values(rng, shape), rng.uniform(0, 1, shape)),
                                                {"pos_weight": rng.uniform(0.5, 2, shape[-1:])
                                                 if rng.random() < 0.5 else None,
                                                 "weight": rng.uniform(0.5, 2, shape)
                                                 if rng.random() < 0.3 else None,
                                                 "reduction": _REDUCTIONS[int(rng.integers(3))]}))(
                 s.shape(rng)))
defcomposite("binary_cross_entropy", binary_cross_entropy,
             sample=lambda rng: (lambda shape: ((rng.uniform(0.05, 0.95, shape),
                                                 rng.uniform(0, 1, shape)),
                                                {"weight": rng.uniform(0.5, 2, shape)
                                                 if rng.random() < 0.5 else None,
                                                 "reduction": _REDUCTIONS[int(rng.integers(3))]}))(
                 s.shape(rng)))
