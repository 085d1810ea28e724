"""erf and erfc on arrays, to float64 accuracy (numpy has neither), as ops.

    erf(x)  = 2/sqrt(pi) * integral_0^x exp(-t^2) dt        erfc(x) = 1 - erf(x)

* |x| < 0.5: erf(x) = x * sum_n a_n x^(2n), its Taylor series, 13 terms
  (the first term left out is below 1e-17 of the sum);
* z >= 0: erfc(z) = t * exp(-z^2 + F(u)) with t = 2 / (2 + z), u = 2t - 1
  (the form of Numerical Recipes' Erf). F is smooth on u in [-1, 1], so a
  30-term Chebyshev series gives it to ~1e-17; the coefficients below were
  computed with 50-digit arithmetic. exp(-z^2) is taken as
  exp(-zh^2) * exp(-(z - zh)(z + zh)) with zh = z rounded to 2^-20: zh^2 is
  exact, so the large exponent carries no rounding error and erfc keeps a
  relative error of a few 1e-16 out to its underflow at z ~ 27;
* erfc(-z) = 2 - erfc(z), erf(x) = sign(x) (1 - erfc(|x|)) for |x| >= 0.5.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.chebyshev import chebval

from autograd_core import sampling as s
from autograd_core.registry import defop

__all__ = ["erf", "erfc"]

_TAYLOR = np.array([2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1))
                    for n in range(13)])[::-1]  # highest power first, for polyval
_CHEB = np.array([
    -6.5132685989085472e-1, 6.4196979235649026e-1, 1.9476473204185836e-2,
    -9.5615147868086316e-3, -9.4659534448203687e-4, 3.6683949785276145e-4,
    4.2523324806907772e-5, -2.0278578112534243e-5, -1.6242900046470255e-6,
    1.3036558355805232e-6, 1.5626441722066143e-8, -8.5238095914926543e-8,
    6.5290544390988515e-9, 5.0593434955514689e-9, -9.9136415649303309e-10,
    -2.2736512229318359e-10, 9.6467911020155268e-11, 2.3940380830391147e-12,
    -6.8860275264975534e-12, 8.9448792730907257e-13, 3.1309213993429581e-13,
    -1.1270822361367252e-13, 3.8109052551892321e-16, 7.106097613609237e-15,
    -1.5230282014571043e-15, -9.457494571291234e-17, 1.210237189224279e-16,
    -2.816663087747177e-17, 5.0030055594459017e-20, 2.3281042579529253e-18,
])
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_BIG = 30.0  # erfc(30) underflows to 0; clamping also keeps inf out of z - zh


def _erfc_nonneg(z: np.ndarray) -> np.ndarray:
    """erfc(z) for z >= 0, in float64."""
    z = np.minimum(z, _BIG)
    t = 2 / (2 + z)
    u = (2 - z) / (2 + z)
    zh = np.round(z * 2.0**20) * 2.0**-20
    # The small factor last: near z = 27 erfc is subnormal and rounds only once.
    return t * np.exp(chebval(u, _CHEB) - (z - zh) * (z + zh)) * np.exp(-zh * zh)


def _erfc(xp, x):
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    e = _erfc_nonneg(np.abs(x64))
    return np.where(x64 < 0, 2 - e, e).astype(_float_type(x), copy=False)


def _erf(xp, x):
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    xs = np.clip(x64, -0.5, 0.5)  # the series is used only there; keeps inf out of it
    small = np.polyval(_TAYLOR, xs * xs) * xs
    large = np.copysign(1 - _erfc_nonneg(np.abs(x64)), x64)
    return np.where(np.abs(x64) < 0.5, small, large).astype(_float_type(x), copy=False)


def _float_type(x: np.ndarray):
    return x.dtype if x.dtype.kind == "f" else np.float64


# d erf / dx = 2/sqrt(pi) exp(-x^2) = -d erfc / dx
erf = defop("erf", _erf, lambda xp, g, ans, x: g * (_TWO_OVER_SQRT_PI * xp.exp(-x * x)),
            sample=s.unary())
erfc = defop("erfc", _erfc, lambda xp, g, ans, x: g * (-_TWO_OVER_SQRT_PI * xp.exp(-x * x)),
             sample=s.unary())
