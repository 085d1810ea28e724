"""Loss functions, PyTorch's formulas and defaults, each with `reduction`.

reduction='mean' averages over elements (for class weights: divides by the
sum of the weights of the targets, as PyTorch does), 'sum' adds, 'none'
keeps one loss per element. Losses on logits are computed from the logits
(max(z, 0) - z y + log1p(e^-|z|), log-softmax shifted by the max), never by
taking the log of a probability.

Two fused ops carry the hot paths: `softmax_cross_entropy` (integer targets;
its gradient is (softmax - target distribution) g / N) and `bce_with_logits`
(gradient sigmoid(z) - y). `bce` clamps its logs at -100 like PyTorch and
uses PyTorch's gradient (p - y) / max(p (1 - p), 1e-12).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import sampling as s
from autograd_core.ops.shape import index_outside
from autograd_core.registry import NP, defcomposite, defop
from autograd_core.tensor import Tensor, apply, to_array

from ._inputs import array_of
from .activations import _log_softmax, _max_keep, _sum_keep, log_softmax, logsigmoid

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


# -- helpers ------------------------------------------------------------------
def _shape(x: Any) -> tuple:
    return array_of(x).shape


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return ag.mean(loss)
    if reduction == "sum":
        return ag.sum(loss)
    return loss


def _target_like(name: str, input: Any, target: Any) -> Any:
    """The target, checked to have the input's shape; a constant float target
    takes the input's dtype (float32 stays float32)."""
    if _shape(target) != _shape(input):
        raise ValueError(f"{name}: target shape {_shape(target)} does not match input "
                         f"shape {_shape(input)}")
    return _constant_like(target, input)


def _check_float_input(name: str, data: np.ndarray) -> None:
    """PyTorch's losses on logits and probabilities take floating point input only."""
    if data.dtype.kind != "f":
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
    """x as an array of the input's float dtype, unless x is a Tensor that requires grad."""
    if isinstance(x, Tensor) and x.requires_grad:
        return x
    dtype = array_of(input).dtype
    # to_array reads a list at the input's dtype directly: a float64 input's list
    # target is not rounded through float32 first
    return to_array(x, dtype if dtype.kind == "f" else None)


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
    """d^2 / 2 where |d| < delta, else delta (|d| - delta / 2), with d = input - target."""
    _check_reduction("huber_loss", reduction)
    _check_positive_number("huber_loss", "delta", delta)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = ag.subtract(input, _target_like("huber_loss", input, target))
    a = ag.abs(d)
    return _reduce(ag.where(a.data < delta, 0.5 * d * d, delta * (a - 0.5 * delta)), reduction)


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
# bce(p, y) = -(y max(log p, -100) + (1 - y) max(log(1 - p), -100))
def _clamped_logs(p):
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped to -100 just below
        return np.maximum(np.log(p), -100), np.maximum(np.log1p(-p), -100)


def _bce(xp, p, y):
    log_p, log_q = _clamped_logs(p)
    return -(y * log_p + (1 - y) * log_q)


def _bce_target_grad(xp, g, ans, p, y):
    if xp is NP:
        log_p, log_q = _clamped_logs(p)
    else:  # differentiable; p stays inside (0, 1) where a second derivative is asked for
        log_p, log_q = xp.maximum(xp.log(p), -100), xp.maximum(xp.log1p(-p), -100)
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
    if y.size and not (np.min(y) >= 0 and np.max(y) <= 1):
        raise ValueError(f"binary_cross_entropy: every target must be in [0, 1], got "
                         f"values in [{np.min(y)}, {np.max(y)}] (target shape {y.shape})")
    if weight is not None:
        _check_broadcasts("binary_cross_entropy", "weight", weight, input)
    if p.size and not (np.min(p) >= 0 and np.max(p) <= 1):
        raise ValueError(f"binary_cross_entropy: every input must be a probability in "
                         f"[0, 1], got values in [{np.min(p)}, {np.max(p)}] (input shape "
                         f"{p.shape}); for logits use binary_cross_entropy_with_logits")
    loss = _BCE(input, target)
    if weight is not None:
        loss = loss * _constant_like(weight, input)
    return _reduce(loss, reduction)


# bce_with_logits(z, y) = max(z, 0) - z y + log1p(e^-|z|); d/dz = sigmoid(z) - y, d/dy = -z.
_BCE_LOGITS = defop(
    "bce_with_logits",
    lambda xp, z, y: np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))),
    lambda xp, g, ans, z, y: g * (xp.sigmoid(z) - y),
    lambda xp, g, ans, z, y: -g * z,
    sample=lambda rng: (lambda shape: ((s.values(rng, shape, (-4.0, 4.0, ())),
                                        rng.uniform(0, 1, shape)), {}))(s.shape(rng)))


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of sigmoid(input), computed from the logits.

    With pos_weight: (1 - y) z + (1 + (pos_weight - 1) y) softplus(-z), PyTorch's form.
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
        log_weight = (_constant_like(pos_weight, input) - 1) * target + 1
        loss = (1 - ag.as_tensor(target)) * input - log_weight * logsigmoid(input)
    if weight is not None:
        loss = loss * _constant_like(weight, input)
    return _reduce(loss, reduction)


# -- multi-class classification -----------------------------------------------------
def _class_axis_view(x, target, shape: tuple):
    """(N, C, *d) logits and (N, *d) targets; unbatched (C,) and () become N = 1."""
    return (x, target) if len(shape) >= 2 else (ag.reshape(x, (1, -1)), target.reshape(1))


def _check_classes(name: str, logits_shape: tuple, target: np.ndarray,
                   ignore_index: int) -> int | None:
    """Raise on a target that is neither a class nor ignore_index; return
    ignore_index, or None when no target can equal it (the ops skip that test)."""
    if not logits_shape:
        raise ValueError(f"{name}: input must have a class axis, got shape ()")
    want = logits_shape[:1] + logits_shape[2:] if len(logits_shape) >= 2 else ()
    if target.shape != want:
        if name == "cross_entropy" and target.shape == logits_shape:
            raise ValueError(f"{name}: target shape {target.shape} does not fit input "
                             f"shape {logits_shape}: integer targets are class indices "
                             f"of shape {want}; pass one-hot or probability targets as "
                             f"floats")
        raise ValueError(f"{name}: target shape {target.shape} does not fit input shape "
                         f"{logits_shape}: class indices need shape {want}, class "
                         f"probabilities the input's shape")
    n = logits_shape[1] if len(logits_shape) >= 2 else logits_shape[0]
    if index_outside(target, n):
        bad = target[(target != ignore_index) & ((target < 0) | (target >= n))]
        if bad.size:
            raise IndexError(f"{name}: target class {bad.flat[0]} is out of range for "
                             f"{n} classes (input shape {logits_shape}, target shape "
                             f"{target.shape})")
        return ignore_index
    return ignore_index if 0 <= ignore_index < n else None


def _check_weight(name: str, weight: Any, logits_shape: tuple) -> None:
    n = logits_shape[1] if len(logits_shape) >= 2 else logits_shape[0]
    if weight is not None and _shape(weight) != (n,):
        raise ValueError(f"{name}: class weights have shape {_shape(weight)}, expected "
                         f"({n},) for input shape {logits_shape}")


def _class_weights(shape: tuple, dtype, target: np.ndarray, weight, ignore_index: int,
                   smoothing: float):
    """What integer targets weigh, over logits of `shape` (N, C, *d).

    The loss of element i is a_i lse_i - sum_c B_ic z_ic for shifted logits z, with
    B_ic = valid_i ((1 - eps) w_t onehot_ic + eps / C w_c) and a_i = sum_c B_ic; its
    gradient is (softmax a - B). Returns (a, B, safe targets, denominator of 'mean');
    a and B are None in the plain case: no weights, no smoothing, nothing ignored.
    """
    t = target[:, None] if target.ndim == 1 else np.expand_dims(target, 1)
    valid = True if ignore_index is None else t != ignore_index
    all_valid = ignore_index is None or bool(valid.all())
    if weight is None and not smoothing and all_valid:
        return None, None, t, float(t.size)
    safe = t if all_valid else np.where(valid, t, 0)
    n = shape[1]
    classes = np.arange(n).reshape((1, n) + (1,) * (len(shape) - 2))
    w = np.ones(n, dtype) if weight is None else to_array(weight, dtype)
    w_t = w[safe] * valid
    B = ((1 - smoothing) * w_t) * (classes == safe)
    if smoothing:
        B = B + (smoothing / n) * w.reshape(classes.shape) * valid
    return np.sum(B, axis=1, keepdims=True), B, safe, float(np.sum(w_t))


def _divide(total, denominator: float):
    if denominator:
        return np.asarray(total / denominator)
    with np.errstate(divide="ignore", invalid="ignore"):  # all ignored: nan, as PyTorch
        return np.asarray(total / denominator)


@functools.lru_cache(maxsize=16)
def _rows(n: int) -> np.ndarray:
    return np.arange(n)


@functools.lru_cache(maxsize=16)
def _classes(n: int) -> np.ndarray:
    return np.arange(n)


def _is_plain(logits, target, weight, ignore_index, label_smoothing, reduction) -> bool:
    """The classifier's everyday case: (N, C) logits, every target counted with weight 1.
    (ignore_index None: the caller knows no target is ignored.)"""
    return (weight is None and not label_smoothing and logits.ndim == 2
            and reduction != "none"
            and (ignore_index is None or not (target == ignore_index).any()))


def _xent(xp, logits, target, weight=None, ignore_index=-100, label_smoothing=0.0,
          reduction="mean"):
    if _is_plain(logits, target, weight, ignore_index, label_smoothing, reduction):
        # sum_i log sum_c e^(z_ic) - z_i,t_i with z shifted by each row's max;
        # the exponentials and their sums are kept: softmax for the gradient.
        z = logits - _max_keep(logits, 1)
        e = np.exp(z)
        sums = _sum_keep(e, 1)
        total = (np.add.reduce(np.log(sums), axis=None)
                 - np.add.reduce(z[_rows(len(z)), target], axis=None))
        return np.asarray(total / len(z) if reduction == "mean" else total,
                          logits.dtype), (e, sums)
    return _xent_general(logits, target, weight, ignore_index, label_smoothing,
                         reduction), None


def _xent_general(logits, target, weight, ignore_index, label_smoothing, reduction):
    z = logits - _max_keep(logits, 1)
    lse = np.log(_sum_keep(np.exp(z), 1))
    a, B, safe, denominator = _class_weights(logits.shape, logits.dtype, target, weight,
                                             ignore_index, label_smoothing)
    if B is None:  # lse - z[target]
        picked = z[np.arange(len(z)), target][:, None] if z.ndim == 2 else \
            np.take_along_axis(z, safe, axis=1)
        loss = lse - picked
    else:
        loss = a * lse - np.sum(B * z, axis=1, keepdims=True)
    loss = np.squeeze(loss, axis=1)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else _divide(loss.sum(), denominator)


def _xent_grad(xp, g, ans, logits, target, weight=None, ignore_index=-100,
               label_smoothing=0.0, reduction="mean", saved=None):
    if saved is not None:  # the plain case, from the forward's exponentials
        e, sums = saved
        p = e / sums
        p[_rows(len(p)), target] -= 1
        p *= g / len(target) if reduction == "mean" else g
        return p
    if _is_plain(logits, target, weight, ignore_index, label_smoothing, reduction):
        # (softmax - onehot) g, divided by N for the mean
        scale = g / len(target) if reduction == "mean" else g
        p = xp.softmax(logits, axis=1)
        return (p - (_classes(logits.shape[1]) == target[:, None])) * scale
    shape = logits.shape
    a, B, safe, denominator = _class_weights(shape, logits.dtype, target, weight,
                                             ignore_index, label_smoothing)
    if reduction == "none":
        g = xp.expand_dims(g, axis=1)
    elif reduction == "mean":
        g = g * (1 / denominator if denominator else 0.0)
    p = xp.softmax(logits, axis=1)
    if B is None:
        n = shape[1]
        return (p - (np.arange(n).reshape((1, n) + (1,) * (len(shape) - 2)) == safe)) * g
    return (p * a - B) * g


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
            "ignore_index": [1, -100, None][int(rng.choice(3, p=[0.3, 0.4, 0.3]))],
            "label_smoothing": 0.2 if rng.random() < 0.4 else 0.0,
            "reduction": _REDUCTIONS[int(rng.integers(3))]}


_XENT = defop("softmax_cross_entropy", _xent, _xent_grad, None, saves=True,
              sample=_sample_xent)


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
    if data.dtype.kind != "f":
        _check_float_input("cross_entropy", data)
    shape = data.shape
    if t.dtype.kind == "f":
        if ignore_index >= 0:
            raise ValueError("cross_entropy: ignore_index is not supported for class "
                             "probability targets")
        _check_weight("cross_entropy", weight, shape)
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices or float "
                        f"class probabilities, got dtype {t.dtype}")
    ignored = _check_classes("cross_entropy", shape, t, ignore_index)
    if weight is not None:
        _check_weight("cross_entropy", weight, shape)
    x, t = _class_axis_view(input, t, shape)
    loss = apply(_XENT, (x, t), {"weight": weight, "ignore_index": ignored,
                                 "label_smoothing": label_smoothing, "reduction": reduction})
    return ag.reshape(loss, ()) if reduction == "none" and len(shape) < 2 else loss


def _soft_cross_entropy(input, target, weight, reduction, smoothing) -> Tensor:
    """-sum_c w_c t_c log_softmax(x)_c with probability targets; 'mean' divides by N."""
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
    terms = log_softmax(input, axis=axis) * target
    if weight is not None:
        # of the input's dtype, as the target: a float64 weight leaves a float32 loss float32
        w = _constant_like(weight, input)
        terms = terms * ag.reshape(w, (n,) + (1,) * (len(shape) - axis - 1))
    if reduction == "none":
        return -ag.sum(terms, axis=axis)
    total = -ag.sum(terms)
    return total if reduction == "sum" else total / (int(np.prod(shape)) // n)


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-w_t input[target] for log-probabilities (N, C) or (N, C, d1, ...); 'mean'
    divides by the summed weights of the targets that are not ignored."""
    _check_reduction("nll_loss", reduction)
    t = array_of(target)
    data = array_of(input)
    _check_float_input("nll_loss", data)
    shape = data.shape
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold integer class indices, got dtype "
                        f"{t.dtype}")
    ignored = _check_classes("nll_loss", shape, t, ignore_index)
    _check_weight("nll_loss", weight, shape)
    x, t = _class_axis_view(input, t, shape)
    a, _, safe, denominator = _class_weights(_shape(x), array_of(x).dtype, t, weight,
                                             ignored, 0.0)
    loss = -ag.take_along_axis(x, safe, axis=1)
    if a is not None:
        loss = loss * a  # a = w_t, 0 where ignored
    loss = ag.squeeze(loss, axis=1)
    if reduction == "none":
        return ag.reshape(loss, ()) if len(shape) < 2 else loss
    total = ag.sum(loss)
    if reduction == "sum":
        return total
    # every target ignored: nan with a zero gradient, as PyTorch
    return total / denominator if denominator else total * 0.0 + math.nan


def _sample_nll(rng):
    (x, t), p = _sample_xent(rng)
    del p["label_smoothing"]
    if p["ignore_index"] is None:  # the op's "nothing ignored"; the public default here
        p["ignore_index"] = -100
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


defcomposite("cross_entropy", cross_entropy, sample=_sample_soft_xent)
defcomposite("nll_loss", nll_loss, sample=_sample_nll)
defcomposite("mse_loss", mse_loss, sample=_sample_pair())
defcomposite("l1_loss", l1_loss, sample=_sample_pair(s.NONZERO))
defcomposite("huber_loss", huber_loss, sample=_sample_pair((-3.0, 3.0, (-1.0, 1.0))))
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
