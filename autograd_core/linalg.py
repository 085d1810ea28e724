"""Linear algebra, `ag.linalg`: numpy.linalg / torch.linalg, batched over leading axes.

    w, v = ag.linalg.eigh(a)              # a: (..., n, n), symmetric
    x = ag.linalg.solve(a, b)             # a x = b
    ag.linalg.norm(x, ord="nuc", axis=(0, 1))

Each op is a forward on arrays written with the array API's ``xp.linalg``
names and one rule per input written with registered ops (matmul, swapaxes,
these ops themselves), so second derivatives work. A decomposition with
several results is several ops, one per result (``linalg_svd_u``,
``linalg_svdvals``, ``linalg_svd_vh``): a loss that uses only the singular
values runs only their rule, ``u diag(g) vh``, which stays defined where
the rules for ``u`` and ``vh`` are not (repeated singular values), as in
PyTorch. Each such op runs the decomposition itself; the library routine
is deterministic, so the results of one call agree.

Where a gradient is undefined (PyTorch documents the same points):

* ``det``, ``slogdet``: the rule goes through ``inv``, so at an exactly
  singular matrix the gradient raises LinAlgError (PyTorch gives the
  adjugate there; ``det`` itself is fine and is 0).
* ``eigh``: the eigenvalues' gradient ``v diag(g) v^T`` is always defined;
  the eigenvectors' has ``1 / (w_j - w_i)`` off the diagonal, so at exactly
  repeated eigenvalues it is NaN (the eigenvectors are not unique there;
  PyTorch gives inf or NaN), and it grows without bound as two approach.
* ``svd``: the singular values' gradient is always defined; those of ``u``
  and ``vh`` have ``1 / (s_j^2 - s_i^2)``, NaN at exactly repeated singular
  values, and for a non-square input also ``1 / s``, NaN at a zero one.
  ``full_matrices=True`` has no gradient (the extra columns of ``u`` / rows
  of ``vh`` are an arbitrary basis): it raises RuntimeError when a graph
  would be recorded; use it under ``ag.no_grad()`` or take the reduced SVD.
* ``qr``: defined for full-rank input (``r`` has a nonzero diagonal).
* ``eigh``, ``eigvalsh``, ``cholesky`` read their input as symmetric: they
  decompose ``(a + a^T) / 2``, which is ``a`` itself for a symmetric ``a``
  (numpy and PyTorch read only the lower triangle, so for a non-symmetric
  input the values differ from theirs). Their gradients are symmetric
  matrices, PyTorch's.
* norms: 0 at the origin for the 2-norm / Frobenius norm (``ag.norm``'s
  subgradient); max/min-based norms (inf, -inf, matrix 1 and inf) split
  the gradient between ties, and matrix 2 / -2 / nuc norms go through
  ``svdvals``.

``solve(a, b)`` follows numpy 2 and the array API: ``b`` is a vector only
when it is 1-D; otherwise it is a (batch of) matrix of shape (..., n, k).
(PyTorch also reads a ``b`` of shape ``a.shape[:-1]`` as a batch of vectors.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import sampling as s
from .backend import backend_of
from .grad_mode import is_grad_enabled
from .registry import OP, defcomposite, defop, torch_names
from .tensor import Tensor, _make, to_array

__all__ = ["cholesky", "det", "eigh", "eigvalsh", "inv", "matrix_norm", "norm", "qr",
           "slogdet", "solve", "svd", "svdvals", "vector_norm"]


# -- helpers ------------------------------------------------------------------
def _shape(x: Any) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def _square_problem(shape: tuple) -> str | None:
    if len(shape) < 2 or shape[-1] != shape[-2]:
        return (f"expected a square matrix or a batch of them (shape (..., n, n)), "
                f"got shape {shape}")
    return None


def _need_square(name: str, x: Any) -> None:
    """ValueError naming the public op unless x is (..., n, n)."""
    problem = _square_problem(_shape(x))
    if problem:
        raise ValueError(f"linalg.{name}: {problem}")


def _need_matrix(name: str, x: Any) -> None:
    shape = _shape(x)
    if len(shape) < 2:
        raise ValueError(f"linalg.{name}: expected a matrix or a batch of them "
                         f"(shape (..., m, n)), got shape {shape}")


def _square_forward(x) -> None:
    """The same check inside a forward (the engine adds the op's name)."""
    problem = _square_problem(tuple(x.shape))
    if problem:
        raise ValueError(problem)


def _la(xp, a):
    """The array API's linalg extension for `a`: ``xp.linalg``, or the one its array
    namespace has (a backend's ``xp`` lists a library's attributes, and array-api-strict
    loads its extensions lazily, so ``linalg`` is not among them)."""
    la = getattr(xp, "linalg", None)
    return la if la is not None else a.__array_namespace__().linalg


def _mT(xp, x):
    """The matrix transpose of a (batch of) matrices, as a registered op."""
    return xp.swapaxes(x, -1, -2)


def _sym_forward(xp, a):
    """(a + a^T) / 2: a itself for a symmetric a; the input read by eigh and cholesky."""
    return (a + xp.matrix_transpose(a)) * 0.5


def _sym(xp, x):
    return (x + _mT(xp, x)) * 0.5


def _array(x):
    return x._data if isinstance(x, Tensor) else x


def _mask(like, rows: int, cols: int, k: int = 0, diagonal_only: bool = False):
    """A constant 0/1 matrix in like's library, dtype and device: the lower triangle
    j <= i + k (tril's mask), or only the diagonal j == i + k. Rules multiply by it,
    so it works on every backend (the array API has no tril)."""
    data = _array(like)
    lib = backend_of(data).xp
    i = lib.reshape(lib.arange(rows, device=data.device), (rows, 1))
    j = lib.reshape(lib.arange(cols, device=data.device), (1, cols))
    m = (j == i + k) if diagonal_only else (j <= i + k)
    return lib.astype(m, data.dtype)


def _eye(like, n: int):
    return _mask(like, n, n, diagonal_only=True)


def _row(xp, v):
    """A vector (..., k) as (..., 1, k): scales the columns of a matrix."""
    return xp.expand_dims(v, -2)


def _col(xp, v):
    """A vector (..., k) as (..., k, 1): scales the rows of a matrix."""
    return xp.expand_dims(v, -1)


def _scalar_as_matrix(xp, v):
    """A batch of numbers (...) as (..., 1, 1)."""
    return xp.reshape(v, tuple(v.shape) + (1, 1))


# -- samplers (host numpy: they only draw test inputs) -------------------------
def _batch(rng) -> tuple:
    return s.shape(rng, 0, 2, max_side=3)


def _general(rng, n=None, batch=None) -> np.ndarray:
    """Well conditioned: entries in [-1, 1] plus (n + 1) I, one row's sign maybe flipped."""
    n = int(rng.integers(1, 5)) if n is None else n
    batch = _batch(rng) if batch is None else batch
    a = 0.5 * s.values(rng, batch + (n, n)) + (n + 1) * np.eye(n)
    if rng.random() < 0.5:  # a negative determinant too
        a[..., 0, :] *= -1
    return a


def _orthonormal(rng, shape: tuple) -> np.ndarray:
    return np.linalg.qr(rng.standard_normal(shape))[0]


def _spaced(rng, batch: tuple, k: int, low: float, high: float) -> np.ndarray:
    """Values in [low, high], at least (high - low) / (k - 1) apart, permuted per matrix."""
    grid = np.linspace(low, high, k)
    out = np.stack([rng.permutation(grid) for _ in range(int(np.prod(batch, dtype=int)))])
    return out.reshape(batch + (k,))


def _spd(rng) -> np.ndarray:
    n, batch = int(rng.integers(1, 5)), _batch(rng)
    b = s.values(rng, batch + (n, n))
    return b @ np.swapaxes(b, -1, -2) + n * np.eye(n)


def _symmetric(rng) -> np.ndarray:
    """Symmetric, eigenvalues in [-2, 2] at least 4 / (n - 1) apart."""
    n, batch = int(rng.integers(1, 5)), _batch(rng)
    v = _orthonormal(rng, batch + (n, n))
    w = _spaced(rng, batch, n, -2.0, 2.0)
    a = (v * w[..., None, :]) @ np.swapaxes(v, -1, -2)
    return (a + np.swapaxes(a, -1, -2)) / 2


def _with_singular_values(rng, m=None, n=None) -> np.ndarray:
    """(..., m, n) with singular values in [0.5, 2.5] at least 2 / (k - 1) apart."""
    m = int(rng.integers(1, 5)) if m is None else m
    n = int(rng.integers(1, 5)) if n is None else n
    batch, k = _batch(rng), min(m, n)
    u = _orthonormal(rng, batch + (m, k))
    v = _orthonormal(rng, batch + (n, k))
    sv = _spaced(rng, batch, k, 0.5, 2.5)
    return (u * sv[..., None, :]) @ np.swapaxes(v, -1, -2)


def _full_rank(rng) -> np.ndarray:
    """(..., m, n), tall or wide, its leading square block well conditioned (for QR)."""
    m, n, batch = int(rng.integers(1, 5)), int(rng.integers(1, 5)), _batch(rng)
    k = min(m, n)
    a = 0.5 * s.values(rng, batch + (m, n))
    a[..., :k, :k] += (k + 1) * np.eye(k)
    return a


def _one(sampler):
    return lambda rng: ((sampler(rng),), {})


# -- solve, inv, det, slogdet --------------------------------------------------
def _solve(xp, a, b):
    _square_forward(a)
    return _la(xp, a).solve(a, b)


def _solve_grads(xp, g, ans, inputs, needs):
    # x = a^-1 b: gb = a^-T g, ga = -gb x^T (with b a vector: columns of one).
    a, b = inputs
    vector = b.ndim == 1
    gm = _col(xp, g) if vector else g
    xm = _col(xp, ans) if vector else ans
    gb = xp.linalg_solve(_mT(xp, a), gm)
    ga = -xp.matmul(gb, _mT(xp, xm)) if needs[0] is not None else None
    if needs[1] is not None:
        return ga, (gb[..., 0] if vector else gb)
    return ga, None


def _sample_solve(rng):
    n, batch = int(rng.integers(1, 5)), _batch(rng)
    a = _general(rng, n, batch)
    kind = int(rng.integers(0, 3))
    if kind == 0:
        b = s.values(rng, (n,))
    else:
        k = int(rng.integers(1, 4))
        b = s.values(rng, (s.broadcastable(rng, batch) if kind == 1 else batch) + (n, k))
    if rng.random() < 0.3 and batch:  # a broadcast against a batch of b
        a = a[(0,) * len(batch)]
        b = s.values(rng, batch + (n, 2))
    return (a, b), {}


defop("linalg_solve", _solve, vjp=_solve_grads, nin=2, sample=_sample_solve,
      doc="x with a x = b (numpy 2: a 1-D b is a vector, else (..., n, k))")


def _inv(xp, a):
    _square_forward(a)
    return _la(xp, a).inv(a)


defop("linalg_inv", _inv,
      lambda xp, g, ans, a: -xp.matmul(xp.matmul(_mT(xp, ans), g), _mT(xp, ans)),
      sample=_one(_general))


def _det(xp, a):
    _square_forward(a)
    return _la(xp, a).det(a)


# d det(a) = det(a) tr(a^-1 da): the gradient is det(a) a^-T.
defop("linalg_det", _det,
      lambda xp, g, ans, a: _scalar_as_matrix(xp, g * ans) * _mT(xp, xp.linalg_inv(a)),
      sample=_one(_general))


def _logabsdet(xp, a):
    _square_forward(a)
    return _la(xp, a).slogdet(a)[1]


defop("linalg_logabsdet", _logabsdet,
      lambda xp, g, ans, a: _scalar_as_matrix(xp, g) * _mT(xp, xp.linalg_inv(a)),
      sample=_one(_general))


# -- cholesky ------------------------------------------------------------------
def _cholesky(xp, a):
    _square_forward(a)
    return _la(xp, a).cholesky(_sym_forward(xp, a))


def _cholesky_grad(xp, g, ans, a):
    # Murray (2016): with P = Phi(L^T gL), Phi the lower triangle with its diagonal
    # halved, the gradient is sym(L^-T P L^-1); the solves give L^-T (.) twice.
    n = a.shape[-1]
    phi = _mask(g, n, n) - _eye(g, n) * 0.5
    p = xp.matmul(_mT(xp, ans), g) * phi
    y = xp.linalg_solve(_mT(xp, ans), p)  # L^-T P
    return _sym(xp, _mT(xp, xp.linalg_solve(_mT(xp, ans), _mT(xp, y))))


defop("linalg_cholesky", _cholesky, _cholesky_grad, sample=_one(_spd))


# -- qr (reduced) ----------------------------------------------------------------
def _qr_q(xp, a):
    return _la(xp, a).qr(a)[0]


def _qr_r(xp, a):
    return _la(xp, a).qr(a)[1]


def _copyltu(xp, m):
    """The symmetric matrix with m's lower triangle: tril(m) + tril(m, -1)^T."""
    n = m.shape[-1]
    return m * _mask(m, n, n) + _mT(xp, m * _mask(m, n, n, -1))


def _qr_square_grad(xp, q, r, gq, gr):
    """The gradient of A for A = QR with R square (m >= n): with
    M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^-T. gq or gr may be None."""
    if gr is None:
        m = -xp.matmul(_mT(xp, gq), q)
    elif gq is None:
        m = xp.matmul(r, _mT(xp, gr))
    else:
        m = xp.matmul(r, _mT(xp, gr)) - xp.matmul(_mT(xp, gq), q)
    b = xp.matmul(q, _copyltu(xp, m))
    if gq is not None:
        b = gq + b
    return _mT(xp, xp.linalg_solve(r, _mT(xp, b)))  # b R^-T


def _qr_grad(xp, a, gq, gr, q=None, r=None):
    """For a wide A = [X | Y] (m < n): X = Q U, Y = Q V with R = [U | V]; then
    gY = Q gV and X takes the square rule with gQ + Y gV^T."""
    q = xp.linalg_qr_q(a) if q is None else q
    r = xp.linalg_qr_r(a) if r is None else r
    m, n = a.shape[-2], a.shape[-1]
    if m >= n:
        return _qr_square_grad(xp, q, r, gq, gr)
    # [I_m | 0] and [0 | I_(n-m)] as matrices: splitting and joining by matmul.
    left, right = _mask(a, m, n, diagonal_only=True), _mask(a, n - m, n, m, diagonal_only=True)
    y = xp.matmul(a, _mT(xp, right))
    u = xp.matmul(r, _mT(xp, left))
    if gr is None:
        return xp.matmul(_qr_square_grad(xp, q, u, gq, None), left)
    gu, gv = xp.matmul(gr, _mT(xp, left)), xp.matmul(gr, _mT(xp, right))
    gq2 = xp.matmul(y, _mT(xp, gv)) if gq is None else gq + xp.matmul(y, _mT(xp, gv))
    gx = _qr_square_grad(xp, q, u, gq2, gu)
    return xp.matmul(gx, left) + xp.matmul(xp.matmul(q, gv), right)


defop("linalg_qr_q", _qr_q, lambda xp, g, ans, a: _qr_grad(xp, a, g, None, q=ans),
      sample=_one(_full_rank))
defop("linalg_qr_r", _qr_r, lambda xp, g, ans, a: _qr_grad(xp, a, None, g, r=ans),
      sample=_one(_full_rank))


# -- eigh -----------------------------------------------------------------------
def _eigvalsh(xp, a):
    _square_forward(a)
    return _la(xp, a).eigvalsh(_sym_forward(xp, a))


def _column_signs(xp, v):
    """+-1 per column of v (as (..., 1, k)): the sign of its entry largest in magnitude.
    Eigenvectors and singular vectors are fixed only up to sign, and LAPACK may flip one
    under a tiny change of the input; so flipped, each is a smooth function of it (away
    from ties in magnitude), which the gradient rules and checks assume."""
    mag = xp.abs(v)
    top = xp.sum(v * xp.astype(mag == xp.max(mag, axis=-2, keepdims=True), v.dtype),
                 axis=-2, keepdims=True)
    return 1 - 2 * xp.astype(top < 0, v.dtype)


def _eigh_vectors(xp, a):
    _square_forward(a)
    v = _la(xp, a).eigh(_sym_forward(xp, a))[1]
    return v * _column_signs(xp, v)


def _reciprocal(xp, x):
    """1 / x, NaN where x is 0: an undefined gradient reads NaN, without the division
    by zero (and numpy's warning) that would give inf there."""
    zero = x == 0
    return xp.where(zero, math.nan, 1 / xp.where(zero, 1.0, x))


def _inverse_gaps(xp, d):
    """F with F_ij = 1 / d_ij off the diagonal (NaN where d_ij = 0: a repeated eigen- or
    singular value) and 0 on it (d: (..., n, n), d_ii = 0)."""
    eye = _eye(d, d.shape[-1])
    return _reciprocal(xp, d + eye) * (1 - eye)


def _eigvalsh_grad(xp, g, ans, a):
    v = xp.linalg_eigh_vectors(a)
    return xp.matmul(v * _row(xp, g), _mT(xp, v))  # v diag(g) v^T


def _eigh_vectors_grad(xp, g, ans, a):
    # dv = v (F o (v^T da v)), F_ij = 1 / (w_j - w_i): gA = sym(v (F o v^T g) v^T).
    w = xp.linalg_eigvalsh(a)
    f = _inverse_gaps(xp, _row(xp, w) - _col(xp, w))
    inner = f * xp.matmul(_mT(xp, ans), g)
    return _sym(xp, xp.matmul(xp.matmul(ans, inner), _mT(xp, ans)))


defop("linalg_eigvalsh", _eigvalsh, _eigvalsh_grad, sample=_one(_symmetric))
defop("linalg_eigh_vectors", _eigh_vectors, _eigh_vectors_grad, sample=_one(_symmetric))


# -- svd (reduced) ----------------------------------------------------------------
def _svdvals(xp, a):
    return _la(xp, a).svdvals(a)


def _svd_u(xp, a):
    u = _la(xp, a).svd(a, full_matrices=False)[0]
    return u * _column_signs(xp, u)


def _svd_vh(xp, a):
    u, _, vh = _la(xp, a).svd(a, full_matrices=False)
    return vh * xp.matrix_transpose(_column_signs(xp, u))  # row i flips with u's column i


def _svdvals_grad(xp, g, ans, a):
    u, vh = xp.linalg_svd_u(a), xp.linalg_svd_vh(a)
    return xp.matmul(u * _row(xp, g), vh)  # u diag(g) vh


# Townsend, "Differentiating the singular value decomposition": with
# F_ij = 1 / (s_j^2 - s_i^2), A = U S V^T,
#   gA = U (F o (U^T gU - gU^T U)) S V^T + (I - U U^T) gU S^-1 V^T          (from gU)
#      + U S (F o (V^T gV - gV^T V)) V^T + U S^-1 gV^T (I - V V^T)          (from gV)
# The projector terms vanish for a square input and are skipped there.
def _svd_gaps(xp, sv):
    sq = sv * sv
    return _inverse_gaps(xp, _row(xp, sq) - _col(xp, sq))


def _svd_u_grad(xp, g, ans, a):
    u, sv, vh = ans, xp.linalg_svdvals(a), xp.linalg_svd_vh(a)
    ug = xp.matmul(_mT(xp, u), g)
    inner = _svd_gaps(xp, sv) * (ug - _mT(xp, ug)) * _row(xp, sv)
    out = xp.matmul(xp.matmul(u, inner), vh)
    if a.shape[-2] > a.shape[-1]:  # U is not square: the part of g outside its span
        out = out + xp.matmul((g - xp.matmul(u, ug)) * _row(xp, _reciprocal(xp, sv)), vh)
    return out


def _svd_vh_grad(xp, g, ans, a):
    vh, sv, u = ans, xp.linalg_svdvals(a), xp.linalg_svd_u(a)
    vg = xp.matmul(vh, _mT(xp, g))  # V^T gV
    inner = _col(xp, sv) * (_svd_gaps(xp, sv) * (vg - _mT(xp, vg)))
    out = xp.matmul(xp.matmul(u, inner), vh)
    if a.shape[-1] > a.shape[-2]:  # V is not square
        out = out + xp.matmul(u, (g - xp.matmul(_mT(xp, vg), vh))
                              * _col(xp, _reciprocal(xp, sv)))
    return out


defop("linalg_svdvals", _svdvals, _svdvals_grad, sample=_one(_with_singular_values))
defop("linalg_svd_u", _svd_u, _svd_u_grad, sample=_one(_with_singular_values))
defop("linalg_svd_vh", _svd_vh, _svd_vh_grad, sample=_one(_with_singular_values))


# -- the public functions ----------------------------------------------------------
def _records_graph(a) -> bool:
    return isinstance(a, Tensor) and a.requires_grad and is_grad_enabled()


def _data(x):
    return x._data if isinstance(x, Tensor) else to_array(x)


def _constant(out, like) -> Tensor:
    """A result without gradient (a sign, a count), as an array of like's library."""
    if backend_of(like).single_device and type(out) is not np.ndarray:
        out = np.asarray(out)  # numpy gives scalars for 0-d results
    return _make(out, None)


def solve(a, b) -> Tensor:
    """x with a @ x = b, batched. b is a vector when 1-D (numpy 2 and the array API),
    else a matrix (..., n, k); batch axes broadcast."""
    _need_square("solve", a)
    sa, sb = _shape(a), _shape(b)
    n = sa[-1]
    rows = sb[0] if len(sb) == 1 else sb[-2] if len(sb) >= 2 else None
    if rows != n:
        raise ValueError(f"linalg.solve: b of shape {sb} does not match a of shape {sa} "
                         f"(expected b of shape ({n},) or (..., {n}, k))")
    return OP.linalg_solve(a, b)


def inv(a) -> Tensor:
    """The inverse of a square matrix (or of each in a batch)."""
    _need_square("inv", a)
    return OP.linalg_inv(a)


def det(a) -> Tensor:
    """The determinant, batched. Its gradient det(a) a^-T raises at a singular a."""
    _need_square("det", a)
    return OP.linalg_det(a)


def slogdet(a) -> tuple[Tensor, Tensor]:
    """(sign, logabsdet) of the determinant; sign has no gradient (0 for a singular a,
    where logabsdet is -inf)."""
    _need_square("slogdet", a)
    data = _data(a)
    sign = _la(backend_of(data).xp, data).slogdet(data)[0]
    return _constant(sign, data), OP.linalg_logabsdet(a)


def cholesky(a, *, upper: bool = False) -> Tensor:
    """The lower Cholesky factor L of a symmetric positive definite a = L L^T (upper=True:
    L^T). a is read as (a + a^T) / 2 (see the module's notes)."""
    _need_square("cholesky", a)
    low = OP.linalg_cholesky(a)
    return OP.swapaxes(low, -1, -2) if upper else low


def qr(a, mode: str = "reduced") -> tuple[Tensor, Tensor]:
    """(q, r) with a = q r, q's columns orthonormal, r upper triangular. mode 'reduced':
    q (..., m, k), r (..., k, n), k = min(m, n). 'complete' is the same for m <= n; for
    m > n it has no gradient (raises RuntimeError when a graph would be recorded)."""
    _need_matrix("qr", a)
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr: mode must be 'reduced' or 'complete', got {mode!r}")
    m, n = _shape(a)[-2:]
    if mode == "complete" and m > n:
        if _records_graph(a):
            raise RuntimeError("linalg.qr: mode='complete' with more rows than columns has "
                               "no gradient (q's extra columns are an arbitrary basis); use "
                               "mode='reduced', or call it under ag.no_grad()")
        data = _data(a)
        q, r = _la(backend_of(data).xp, data).qr(data, mode="complete")
        return _constant(q, data), _constant(r, data)
    return OP.linalg_qr_q(a), OP.linalg_qr_r(a)


def eigh(a) -> tuple[Tensor, Tensor]:
    """(w, v): eigenvalues in ascending order and orthonormal eigenvectors (columns) of a
    symmetric a, batched. The gradient through v is undefined at repeated eigenvalues."""
    _need_square("eigh", a)
    return OP.linalg_eigvalsh(a), OP.linalg_eigh_vectors(a)


def eigvalsh(a) -> Tensor:
    """The eigenvalues of a symmetric a, ascending (their gradient is always defined)."""
    _need_square("eigvalsh", a)
    return OP.linalg_eigvalsh(a)


def svd(a, full_matrices: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """(u, s, vh) with a = u diag(s) vh, s descending. Reduced by default: u (..., m, k),
    vh (..., k, n), k = min(m, n). full_matrices=True has no gradient: it raises
    RuntimeError when a graph would be recorded (see the module's notes)."""
    _need_matrix("svd", a)
    if full_matrices:
        if _records_graph(a):
            raise RuntimeError("linalg.svd: full_matrices=True has no gradient (the extra "
                               "columns of u and rows of vh are an arbitrary basis); use "
                               "full_matrices=False, or call it under ag.no_grad()")
        data = _data(a)
        u, sv, vh = _la(backend_of(data).xp, data).svd(data, full_matrices=True)
        return tuple(_constant(x, data) for x in (u, sv, vh))
    return OP.linalg_svd_u(a), OP.linalg_svdvals(a), OP.linalg_svd_vh(a)


def svdvals(a) -> Tensor:
    """The singular values, descending (their gradient u diag(g) vh is always defined)."""
    _need_matrix("svdvals", a)
    return OP.linalg_svdvals(a)


# -- norms ---------------------------------------------------------------------
def _axes(name: str, axis, ndim: int) -> tuple:
    axes = tuple(range(ndim)) if axis is None else (axis,) if isinstance(axis, int) \
        else tuple(axis)
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(f"linalg.{name}: axis {ax} is out of range for an input with "
                             f"{ndim} axes")
    wrapped = tuple(ax % ndim for ax in axes) if ndim else axes
    if len(set(wrapped)) != len(wrapped):
        raise ValueError(f"linalg.{name}: repeated axis in {axis}")
    return wrapped


def _as_tensor(x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    from .creation import as_tensor
    return as_tensor(x)


def vector_norm(x, ord: float = 2, axis=None, keepdims: bool = False, *, dim=None,
                keepdim=None) -> Tensor:
    """(sum |x|^ord)^(1/ord) over axis (all of x by default, as one vector); ord inf / -inf
    is max / min |x|, ord 0 counts the nonzero entries (no gradient). The gradient is 0
    at the origin and at zero entries (where |x|^ord has an infinite slope for ord < 1);
    max/min split it between ties."""
    axis, keepdims = torch_names("linalg.vector_norm", axis, keepdims, dim, keepdim)
    x = _as_tensor(x)
    if isinstance(ord, str):
        raise ValueError(f"linalg.vector_norm: ord {ord!r} is a matrix norm; use "
                         f"matrix_norm, or a number for a vector norm")
    axes = _axes("vector_norm", axis, x.ndim)
    kw = {"axis": None if axis is None else axes, "keepdims": keepdims}
    if ord == 2:
        return OP.norm(x, **kw)
    a = OP.abs(x)
    if ord == math.inf:
        return OP.max(a, **kw)
    if ord == -math.inf:
        return OP.min(a, **kw)
    if ord == 1:
        return OP.sum(a, **kw)
    if ord == 0:
        data = x.data != 0
        lib = backend_of(data).xp
        count = lib.sum(lib.astype(data, x.dtype), axis=kw["axis"], keepdims=keepdims)
        return _constant(count, x.data)
    p = float(ord)
    zero = a == 0  # entries left out of a ** p: its derivative there is 0 or inf
    if p > 0:  # scaled by the largest |x| so a**p neither overflows nor underflows
        big = OP.max(a, axis=kw["axis"], keepdims=True)
        origin = big == 0
        big = OP.where(origin, 1.0, big)
        terms = OP.where(zero, 0.0, (OP.where(zero, 1.0, a) / big) ** p)
        total = OP.where(origin, 1.0, OP.sum(terms, axis=kw["axis"], keepdims=True))
        out = OP.where(origin, 0.0, big * total ** (1 / p))
    else:  # a zero entry makes the sum inf and the norm 0
        has_zero = OP.max(OP.astype(zero, x.dtype), axis=kw["axis"], keepdims=True) > 0
        total = OP.sum(OP.where(zero, 1.0, a) ** p, axis=kw["axis"], keepdims=True)
        out = OP.where(has_zero, 0.0, total ** (1 / p))
    if keepdims:
        return out
    kept = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return OP.reshape(out, kept)


_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def matrix_norm(x, ord="fro", axis=(-2, -1), keepdims: bool = False, *, dim=None,
                keepdim=None) -> Tensor:
    """A matrix norm over the two axes `axis` ((-2, -1): the last two, batched):
    'fro', 'nuc' (sum of singular values), 2 / -2 (largest / smallest singular value),
    1 / -1 (max / min column sum of |x|), inf / -inf (max / min row sum of |x|)."""
    if dim is not None and axis == (-2, -1):
        axis = None
    axis, keepdims = torch_names("linalg.matrix_norm", axis, keepdims, dim, keepdim)
    x = _as_tensor(x)
    if ord not in _MATRIX_ORDS:
        raise ValueError(f"linalg.matrix_norm: ord {ord!r} is not a matrix norm (expected "
                         f"'fro', 'nuc', 1, -1, 2, -2, inf or -inf)")
    if x.ndim < 2:
        raise ValueError(f"linalg.matrix_norm: expected a matrix or a batch of them, got "
                         f"shape {x.shape}")
    axes = _axes("matrix_norm", axis, x.ndim)
    if len(axes) != 2:
        raise ValueError(f"linalg.matrix_norm: axis must name 2 axes, got {axis}")
    rows, cols = axes
    kept = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    kept_dims = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    shape = kept_dims if keepdims else kept
    if ord == "fro":
        return OP.norm(x, axis=axes, keepdims=keepdims)
    if ord in ("nuc", 2, -2):
        others = [i for i in range(x.ndim) if i not in axes]
        moved = x if axes == (x.ndim - 2, x.ndim - 1) else \
            OP.transpose(x, axes=tuple(others) + axes)
        sv = OP.linalg_svdvals(moved)
        out = (OP.sum if ord == "nuc" else OP.max if ord == 2 else OP.min)(sv, axis=-1)
        return OP.reshape(out, shape)
    a = OP.abs(x)
    inner, outer = (rows, cols) if ord in (1, -1) else (cols, rows)  # 1: column sums
    sums = OP.sum(a, axis=inner, keepdims=True)
    out = (OP.max if ord > 0 else OP.min)(sums, axis=outer, keepdims=True)
    return OP.reshape(out, shape)


def norm(x, ord=None, axis=None, keepdims: bool = False, *, dim=None,
         keepdim=None) -> Tensor:
    """numpy's and torch.linalg's norm: with axis None, the 2-norm of x flattened (ord
    None) or, with an ord, the vector norm of a 1-D x / matrix norm of a 2-D x; an int
    axis takes vector norms, a pair matrix norms (ord None: 2 / 'fro')."""
    axis, keepdims = torch_names("linalg.norm", axis, keepdims, dim, keepdim)
    x = _as_tensor(x)
    if axis is None:
        if ord is None:
            return OP.norm(x, axis=None, keepdims=keepdims)
        if x.ndim not in (1, 2):
            raise ValueError(f"linalg.norm: an ord with axis=None needs a 1-D or 2-D input, "
                             f"got shape {x.shape}; pass axis")
        axis = tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(axes) == 1:
        return vector_norm(x, 2 if ord is None else ord, axis=axes, keepdims=keepdims)
    if len(axes) == 2:
        return matrix_norm(x, "fro" if ord is None else ord, axis=axes, keepdims=keepdims)
    raise ValueError(f"linalg.norm: axis must name 1 or 2 axes, got {axis}")


# -- composites: the public functions, gradient-checked as they are called -----
def _sample_vector_norm(rng):
    shape = s.shape(rng, 1, 3)
    x = s.distinct(rng, shape, 0.3, 2.0) * rng.choice([-1.0, 1.0], size=shape)
    ord_ = [2, 1, math.inf, -math.inf, 3, 0.5, -1.5, 0][int(rng.integers(0, 8))]
    params = s.axis_params(rng, len(shape))
    return (x,), {"ord": ord_, **params}


def _sample_matrix_norm(rng):
    ord_ = _MATRIX_ORDS[int(rng.integers(0, len(_MATRIX_ORDS)))]
    if ord_ in ("nuc", 2, -2):
        x = _with_singular_values(rng)
    else:  # entries away from 0, row and column sums of |x| 0.05 apart (no ties)
        shape = _batch(rng) + (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        while True:
            x = s.values(rng, shape, s.NONZERO)
            if all(_gaps(np.sum(np.abs(x), axis=ax)) > 0.05 for ax in (-1, -2)):
                break
    axis = (-2, -1)
    if x.ndim >= 3 and rng.random() < 0.5:
        x = np.swapaxes(x, 0, -1)
        axis = (-2, 0)
    return (x,), {"ord": ord_, "axis": axis, "keepdims": bool(rng.random() < 0.5)}


def _gaps(v: np.ndarray) -> float:
    """The smallest distance between two entries of a last axis (inf with one entry)."""
    if v.shape[-1] < 2:
        return math.inf
    return float(np.min(np.diff(np.sort(v, axis=-1), axis=-1)))


def _sample_norm(rng):
    kind = int(rng.integers(0, 3))
    if kind == 0:
        (x,), p = _sample_vector_norm(rng)
        return (x,), {"ord": None if rng.random() < 0.3 else p["ord"],
                      "axis": None if x.ndim == 1 else -1,
                      "keepdims": p["keepdims"]}
    if kind == 1:
        (x,), p = _sample_matrix_norm(rng)
        return (x,), {**p, "ord": None if rng.random() < 0.3 else p["ord"]}
    x = s.values(rng, s.shape(rng, 1, 3))
    return (x,), {"ord": None, "axis": None, "keepdims": bool(rng.random() < 0.5)}


defcomposite("linalg_solve_public", solve, sample=_sample_solve)
defcomposite("linalg_slogdet", slogdet, sample=_one(_general))
defcomposite("linalg_cholesky_upper", lambda a: cholesky(a, upper=True), sample=_one(_spd))
defcomposite("linalg_qr", qr, sample=_one(_full_rank))
defcomposite("linalg_eigh", eigh, sample=_one(_symmetric))
defcomposite("linalg_svd", svd, sample=_one(_with_singular_values))
defcomposite("linalg_vector_norm", vector_norm, sample=_sample_vector_norm)
defcomposite("linalg_matrix_norm", matrix_norm, sample=_sample_matrix_norm)
defcomposite("linalg_norm", norm, sample=_sample_norm)
