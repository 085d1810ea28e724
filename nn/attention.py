"""nn.MultiheadAttention: PyTorch's parameters, names and layout (batch-first by default)."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core.tensor import Tensor

from . import init
from .functional.attention import multi_head_attention_forward
from .layers import Linear
from .module import Module, Parameter, _check_int

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Multi-head attention over (N, L, E) queries and (N, S, kdim / vdim) keys and
    values (batch_first=True, API.md's default; batch_first=False takes (L, N, E)).

    Parameters as PyTorch's: in_proj_weight (3E, E) (xavier uniform) and
    in_proj_bias (3E,) (zeros), or q_proj_weight (E, E), k_proj_weight (E, kdim),
    v_proj_weight (E, vdim) when kdim / vdim differ from E; out_proj a Linear(E, E)
    with a zero bias. forward returns (output, weights or None), see
    F.multi_head_attention_forward for the masks (bool True masks OUT).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True, add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None,
                 batch_first: bool = True) -> None:
        super().__init__()
        e = _check_int("MultiheadAttention", "embed_dim", embed_dim, 1)
        h = _check_int("MultiheadAttention", "num_heads", num_heads, 1)
        if e % h:
            raise ValueError(f"MultiheadAttention: embed_dim ({e}) must be divisible by "
                             f"num_heads ({h})")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn "
                                      "are not supported")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads, self.head_dim = e, h, e // h
        self.kdim = e if kdim is None else _check_int("MultiheadAttention", "kdim", kdim, 1)
        self.vdim = e if vdim is None else _check_int("MultiheadAttention", "vdim", vdim, 1)
        self._qkv_same_embed_dim = self.kdim == e and self.vdim == e
        self.dropout = dropout
        self.batch_first = batch_first
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), np.float32))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(np.empty((e, e), np.float32))
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), np.float32))
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), np.float32))
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * e, np.float32))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False
                ) -> tuple[Tensor, Tensor | None]:
        batched = np.ndim(query) == 3
        if not self.batch_first and batched:
            query, key, value = (t.swapaxes(0, 1) if isinstance(t, Tensor)
                                 else np.swapaxes(t, 0, 1) for t in (query, key, value))
        out, weights = multi_head_attention_forward(
            query, key, value, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.out_proj.weight, self.out_proj.bias, dropout_p=self.dropout,
            training=self.training, key_padding_mask=key_padding_mask,
            need_weights=need_weights, attn_mask=attn_mask,
            average_attn_weights=average_attn_weights, is_causal=is_causal,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight)
        if not self.batch_first and batched:
            out = out.swapaxes(0, 1)
        return out, weights

    def extra_repr(self) -> str:
        text = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            text += f", kdim={self.kdim}, vdim={self.vdim}"
        return text + f", batch_first={self.batch_first}"
