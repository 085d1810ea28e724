"""erf, erfc and erfinv, to float64 accuracy, on any array-API backend.

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
* erfinv(y): Giles' single-precision approximation ("Approximating the erfinv
  function", 2010; relative error ~1e-7) polished by two Newton steps, on
  erf(x) = y for |y| < 0.5 and on erfc(x) = 1 - |y| beyond (1 - |y| is exact
  there, and erfc keeps its relative accuracy where erf is within 1e-16 of 1).
  Newton doubles the correct digits: 1e-7 -> 1e-14 -> a few ulp. Past Giles'
  range (1 - |y| < 1e-7) an asymptotic start replaces his fit.

Everything is computed in float64 (float32 inputs are cast back at the end);
the forwards use only the array API standard, so they run on every backend.
"""

from __future__ import annotations

import math

from .. import sampling as s
from ..registry import defop

_TAYLOR = [2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1))
           for n in range(13)]  # lowest power first
_CHEB = [
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
]
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
_BIG = 30.0  # erfc(30) underflows to 0; clamping also keeps inf out of z - zh
# Giles' coefficients, highest power first: w = -log((1 - y)(1 + y)) below 5, and
# sqrt(w) - 3 above.
_GILES_CENTRAL = [2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                  0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]
_GILES_TAIL = [-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
               0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]


def _horner(coefficients, x):
    """sum c_i x^(n - i), the coefficients given highest power first."""
    out = coefficients[0]
    for c in coefficients[1:]:
        out = out * x + c
    return out


def _chebyshev(coefficients, u):
    """sum c_k T_k(u), by Clenshaw's recurrence."""
    b1 = b2 = 0.0
    for c in coefficients[:0:-1]:
        b1, b2 = 2 * u * b1 - b2 + c, b1
    return u * b1 - b2 + coefficients[0]


def _float64(xp, x):
    return x if x.dtype == xp.float64 else xp.astype(x, xp.float64)


def _back(xp, out, x):
    """out (float64) in x's float dtype; integer inputs give float64."""
    if x.dtype == xp.float64 or not xp.isdtype(x.dtype, "real floating"):
        return out
    return xp.astype(out, x.dtype)


def _erfc_nonneg(xp, z):
    """erfc(z) for float64 z >= 0."""
    z = xp.minimum(z, _BIG)
    t = 2 / (2 + z)
    u = (2 - z) / (2 + z)
    zh = xp.round(z * 2.0**20) * 2.0**-20
    # The small factor last: near z = 27 erfc is subnormal and rounds only once.
    return t * xp.exp(_chebyshev(_CHEB, u) - (z - zh) * (z + zh)) * xp.exp(-zh * zh)


def _erfc(xp, x):
    x64 = _float64(xp, x)
    e = _erfc_nonneg(xp, xp.abs(x64))
    return _back(xp, xp.where(x64 < 0, 2 - e, e), x)


def _erf64(xp, x64):
    xs = xp.clip(x64, -0.5, 0.5)  # the series is used only there; keeps inf out of it
    small = _horner(_TAYLOR[::-1], xs * xs) * xs
    large = 1 - _erfc_nonneg(xp, xp.abs(x64))
    return xp.where(xp.abs(x64) < 0.5, small, xp.where(x64 < 0, -large, large))


def _erf(xp, x):
    return _back(xp, _erf64(xp, _float64(xp, x)), x)


def _erfinv(xp, y):
    y64 = _float64(xp, y)
    a = xp.abs(y64)
    inside = a < 1  # NaN is not: it stays NaN below, as +-1 gives +-inf
    a = xp.where(inside, a, 0.0)  # the outside values never reach a log or an exp
    rest = 1 - a  # exact for a >= 0.5
    w = -xp.log(rest * (1 + a))
    central = _horner(_GILES_CENTRAL, w - 2.5)
    tail = _horner(_GILES_TAIL, xp.sqrt(w) - 3)
    x = xp.where(w < 5, central, tail) * a
    # Past w = 16 (1 - |y| < 1e-7, beyond float32) Giles' fit ends: there the asymptotic
    # erfc(x) ~ exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4)), solved for x^2 by a
    # few fixed-point steps, starts Newton within ~1e-4.
    big = -xp.log(xp.where(w >= 16, rest, 1e-7))
    far = xp.sqrt(big)
    for _ in range(3):
        u = 1 / (2 * far * far)
        far = xp.sqrt(big - xp.log(far * math.sqrt(math.pi)) + xp.log1p(-u + 3 * u * u))
    x = xp.where(w >= 16, far, x)
    near_zero = a < 0.5
    for _ in range(2):
        # Newton on erf(x) = a near 0; on log erfc(x) = log(1 - a) beyond, whose slope
        # -2 exp(-x^2) / (sqrt(pi) erfc(x)) ~ -2x keeps steps from far out short.
        e = _erfc_nonneg(xp, x)
        step = xp.where(near_zero, _erf64(xp, x) - a, (xp.log(rest) - xp.log(e)) * e)
        x = x - step * (_SQRT_PI_OVER_2 * xp.exp(x * x))
    x = xp.where(y64 < 0, -x, x)
    edge = xp.where(y64 < 0, xp.full_like(y64, -math.inf), math.inf)
    out = xp.where(inside, x, xp.where(xp.abs(y64) == 1, edge, math.nan))
    return _back(xp, out, y)


# d erf / dx = 2/sqrt(pi) exp(-x^2) = -d erfc / dx; d erfinv / dy = sqrt(pi)/2 exp(erfinv^2)
erf = defop("erf", _erf, lambda xp, g, ans, x: g * (_TWO_OVER_SQRT_PI * xp.exp(-x * x)),
            sample=s.unary(), doc="The error function, 2/sqrt(pi) int_0^x exp(-t^2) dt.")
erfc = defop("erfc", _erfc, lambda xp, g, ans, x: g * (-_TWO_OVER_SQRT_PI * xp.exp(-x * x)),
             sample=s.unary(), doc="1 - erf(x), accurate where erf is close to 1.")
erfinv = defop("erfinv", _erfinv,
               lambda xp, g, ans, x: g * (_SQRT_PI_OVER_2 * xp.exp(ans * ans)),
               sample=s.unary((-0.9, 0.9, ())),
               doc="The inverse of erf on (-1, 1); +-inf at +-1, NaN outside.")
