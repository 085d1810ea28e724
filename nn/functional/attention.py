"""Scaled dot-product attention and the multi-head attention forward, PyTorch's forms.

attention(q, k, v) = softmax(q k^T scale + bias) v, composed of registered ops
(matmul, where, softmax), so gradients to any order come from theirs. Masks are
constants: a bool mask keeps the scores where it is True (PyTorch's SDPA) and puts
-inf elsewhere, a float mask is added. A row whose every score is -inf (fully
masked) gets zero weights and a zero output, as PyTorch's SDPA (its _safe_softmax,
since 2.5), instead of softmax's 0/0 = NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_core import sampling as s
from autograd_core.registry import OP, defcomposite
from autograd_core.tensor import Tensor

from ._constants import data_of, like, namespace_of
from .activations import softmax
from .layers import dropout as _dropout
from .layers import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _shape(x: Any) -> tuple:
    return tuple(data_of(x).shape) if hasattr(data_of(x), "shape") else np.shape(x)


def _is_bool(mask: Any) -> bool:
    return "bool" in str(data_of(mask).dtype)


def _safe_softmax(scores: Tensor) -> Tensor:
    """softmax over the last axis, with rows that are all -inf giving zeros."""
    xp = namespace_of(scores)
    data = data_of(scores)
    dead = xp.all(data == -math.inf, axis=-1, keepdims=True)  # a constant, no host read
    p = softmax(OP.where(dead, 0.0, scores), axis=-1)
    return OP.where(dead, 0.0, p)


def _attend(q: Any, k: Any, v: Any, bias: Any, keep: Any, dropout_p: float,
            scale: float | None) -> tuple[Tensor, Tensor]:
    """(softmax(q k^T scale + bias, masked to keep) dropped out, then @ v; the weights)."""
    scores = OP.matmul(q, OP.swapaxes(k, axis1=-2, axis2=-1))
    if scale is not None:
        scores = scores * scale
    if bias is not None:
        scores = scores + bias
    if keep is not None:
        scores = OP.where(keep, scores, -math.inf)
    weights = _safe_softmax(scores) if bias is not None or keep is not None \
        else softmax(scores, axis=-1)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, training=True)
    return OP.matmul(weights, v), weights


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False
                                 ) -> Tensor:
    """PyTorch's scaled_dot_product_attention on query (..., L, E), key (..., S, E),
    value (..., S, Ev) -> (..., L, Ev):

        softmax(query key^T * scale + bias) value,  scale = 1 / sqrt(E) by default

    attn_mask broadcasts to (..., L, S): bool keeps the positions where it is True,
    float is added to the scores. is_causal keeps only key j <= query i (the
    top-left causal mask, PyTorch's tril(ones(L, S))); it excludes attn_mask.
    dropout_p > 0 drops weights after the softmax (inverted dropout, drawn from
    ag.manual_seed's generator), whatever the module mode: pass 0.0 to evaluate.
    Fully masked rows give zeros (PyTorch 2.5+). enable_gqa lets key and value
    have fewer heads (axis -3) than query, each repeated to match.
    """
    qs, ks, vs = _shape(query), _shape(key), _shape(value)
    if len(qs) < 2 or len(ks) < 2 or len(vs) < 2 or qs[-1] != ks[-1] or ks[-2] != vs[-2]:
        raise ValueError(f"scaled_dot_product_attention: expects query (..., L, E), key "
                         f"(..., S, E) and value (..., S, Ev), got {qs}, {ks} and {vs}")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got "
                         f"{dropout_p}")
    if enable_gqa and len(qs) >= 3 and ks[-3] != qs[-3]:
        if qs[-3] % ks[-3] or ks[-3] != vs[-3]:
            raise ValueError(f"scaled_dot_product_attention: with enable_gqa the query's "
                             f"{qs[-3]} heads must be a multiple of the key's and value's, "
                             f"got {qs}, {ks} and {vs}")
        key = OP.repeat(key, repeats=qs[-3] // ks[-3], axis=-3)
        value = OP.repeat(value, repeats=qs[-3] // vs[-3], axis=-3)
    L, S = qs[-2], ks[-2]
    bias = keep = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or "
                             "is_causal=True, not both")
        keep = like(query, np.tril(np.ones((L, S), bool)))
    elif attn_mask is not None:
        ms = _shape(attn_mask)
        try:
            np.broadcast_shapes(ms, qs[:-2] + (L, S))
        except ValueError:
            raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {ms} does "
                             f"not broadcast to the scores' shape {qs[:-2] + (L, S)}") from None
        if _is_bool(attn_mask):
            keep = data_of(attn_mask)
        else:
            bias = attn_mask
    if scale is None:
        scale = 1.0 / math.sqrt(qs[-1])
    return _attend(query, key, value, bias, keep, dropout_p, scale)[0]


def _mask_bias(mask: Any, like_x: Any) -> Any:
    """A mask as an additive float bias in like_x's dtype: bool True -> -inf (PyTorch's
    MHA masks out where True), float as it is."""
    if mask is None or not _is_bool(mask):
        return mask
    xp, data, dtype = namespace_of(mask), data_of(mask), data_of(like_x).dtype
    return xp.where(data, xp.asarray(-math.inf, dtype=dtype, device=data.device),
                    xp.asarray(0.0, dtype=dtype, device=data.device))


def multi_head_attention_forward(query: Any, key: Any, value: Any, num_heads: int,
                                 in_proj_weight: Any, in_proj_bias: Any, out_proj_weight: Any,
                                 out_proj_bias: Any, dropout_p: float = 0.0,
                                 training: bool = True, key_padding_mask: Any = None,
                                 need_weights: bool = True, attn_mask: Any = None,
                                 average_attn_weights: bool = True, is_causal: bool = False,
                                 q_proj_weight: Any = None, k_proj_weight: Any = None,
                                 v_proj_weight: Any = None) -> tuple[Tensor, Any]:
    """PyTorch's multi-head attention on batch-first query (N, L, E), key (N, S, kdim),
    value (N, S, vdim) (or unbatched (L, E), ...). Returns (output (N, L, E),
    weights (N, L, S) averaged over heads, (N, H, L, S) with
    average_attn_weights=False, or None without need_weights).

    The projections are in_proj_weight's three (E, E) blocks (q, k, v), or
    q/k/v_proj_weight when kdim / vdim differ from E; q is scaled by
    sqrt(1 / head_dim) before q k^T, as PyTorch. key_padding_mask (N, S) and
    attn_mask (L, S) or (N * H, L, S): bool True masks a position OUT (the
    opposite of scaled_dot_product_attention's bool mask), float is added. The
    weights returned are those after dropout, as PyTorch's. Fully masked rows
    give zero weights and output where PyTorch's need_weights path gives NaN.
    is_causal is PyTorch's hint that attn_mask is causal: attn_mask is required.
    """
    qs, ks, vs = _shape(query), _shape(key), _shape(value)
    batched = len(qs) == 3
    if len(qs) not in (2, 3) or len(ks) != len(qs) or len(vs) != len(qs) \
            or ks[:-1] != vs[:-1] or qs[:-2] != ks[:-2]:
        raise ValueError(f"multi_head_attention: expects query (N, L, E), key (N, S, kdim) "
                         f"and value (N, S, vdim), or all unbatched, got {qs}, {ks} and {vs}")
    if is_causal and attn_mask is None:
        raise RuntimeError("multi_head_attention: is_causal is a hint that attn_mask is "
                           "the causal mask; pass attn_mask too")
    if not batched:
        query, key, value = (OP.expand_dims(t, axis=0) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = _unsqueezed(key_padding_mask)
        qs, ks = _shape(query), _shape(key)
    n, L, e = qs
    S = ks[1]
    if e % num_heads:
        raise ValueError(f"multi_head_attention: embed_dim {e} is not divisible by "
                         f"num_heads {num_heads}")
    d = e // num_heads
    if q_proj_weight is None:
        wq, wk, wv = (OP.getitem(in_proj_weight, index=slice(i * e, (i + 1) * e))
                      for i in range(3))
    else:
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    bq = bk = bv = None
    if in_proj_bias is not None:
        bq, bk, bv = (OP.getitem(in_proj_bias, index=slice(i * e, (i + 1) * e))
                      for i in range(3))
    q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)

    def heads(t, length):  # (N, T, E) -> (N, H, T, d)
        return OP.transpose(OP.reshape(t, shape=(n, length, num_heads, d)), axes=(0, 2, 1, 3))

    q, k, v = heads(q, L), heads(k, S), heads(v, S)
    bias = None
    if attn_mask is not None:
        ms = _shape(attn_mask)
        if ms == (L, S):
            shaped = attn_mask
        elif ms == (n * num_heads, L, S):
            shaped = _reshaped(attn_mask, (n, num_heads, L, S))
        else:
            raise ValueError(f"multi_head_attention: attn_mask must have shape {(L, S)} or "
                             f"{(n * num_heads, L, S)}, got {ms}")
        bias = _mask_bias(shaped, query)
    if key_padding_mask is not None:
        if _shape(key_padding_mask) != (n, S):
            raise ValueError(f"multi_head_attention: key_padding_mask must have shape "
                             f"{(n, S)}, got {_shape(key_padding_mask)}")
        pad = _reshaped(_mask_bias(key_padding_mask, query),
                        (n, 1, 1, S))
        bias = pad if bias is None else bias + pad
    q = q * math.sqrt(1.0 / d)
    out, weights = _attend(q, k, v, bias, None, dropout_p if training else 0.0, None)
    out = OP.reshape(OP.transpose(out, axes=(0, 2, 1, 3)), shape=(n, L, e))
    out = linear(out, out_proj_weight, out_proj_bias)
    if not need_weights:
        weights = None
    elif average_attn_weights:
        weights = OP.mean(weights, axis=1)
    if not batched:
        out = OP.squeeze(out, axis=0)
        weights = None if weights is None else OP.squeeze(weights, axis=0)
    return out, weights


def _unsqueezed(mask: Any) -> Any:
    return OP.expand_dims(mask, axis=0) if isinstance(mask, Tensor) \
        else namespace_of(mask).expand_dims(data_of(mask), axis=0)


def _reshaped(mask: Any, shape: tuple) -> Any:
    return OP.reshape(mask, shape=shape) if isinstance(mask, Tensor) \
        else namespace_of(mask).reshape(data_of(mask), shape)


# -- registered for the gradient checks ---------------------------------------------------
def _sample_sdpa(rng):
    batch = s.shape(rng, 0, 2, 3)
    L, S, E, Ev = (int(v) for v in rng.integers(1, 4, size=4))
    q, k, v = (s.values(rng, batch + shp) for shp in ((L, E), (S, E), (S, Ev)))
    kind = int(rng.integers(0, 4))
    params: dict = {}
    mask = None
    if kind == 1:
        mask = rng.random((L, S)) < 0.7
        mask[:, 0] = True  # no row fully masked
        if rng.random() < 0.3:
            mask[-1] = False  # one fully masked row: zeros
    elif kind == 2:
        mask = s.values(rng, (L, S))
    elif kind == 3:
        params["is_causal"] = True
    if rng.random() < 0.3:
        params["scale"] = 0.7
    return (q, k, v, mask), params


defcomposite("scaled_dot_product_attention", scaled_dot_product_attention,
             sample=_sample_sdpa)
