"""Vectorisable ``tanh``, ``sigmoid`` and their derivatives for Numba code.

Why this file exists: inside compiled code ``np.tanh`` and ``np.exp`` become one call
to the C library per element (the pip build of llvmlite has no SVML, Intel's vector
maths library), 12.5 ns each, against 0.16 ns (float32) and 0.77 ns (float64) per
element for NumPy's vectorised ufunc (measured: the table in docs/performance.md, which
also has this file's functions). An RNN step with H = 512 and N = 64 applies tanh 32768
times, so the scalar call alone would cost 0.4 ms per step. The functions here are
written with ``+ - * /``, comparisons and integer bit tests only, which LLVM turns
into SIMD code when they sit in a loop, and they stay accurate to the rounding of
their dtype (a few units in the last place; the tests compare with NumPy and SciPy
over the whole range, including large |x|, +-inf, nan and signed zero).

The method (fdlibm's ``expm1`` and Cephes' ``exp``, reorganised to be branch-free):

    exp(-y) = 2**-k * exp(r),   k = round(y / ln 2),   r = k ln 2 - y in [-ln2/2, ln2/2]

``r`` is computed with ln 2 split in a high part (exact times k) and a low part
(Cody and Waite), ``expm1(r)`` by its Taylor series (degree 13 for float64, 7 for
float32: truncation below half an ulp on that interval), and ``2**-k`` as a product
of the powers of two selected by the bits of k (exact, and a vector select instead
of the bit trick on the exponent field that Numba cannot express). Then

    tanh(x)    = copysign(-m / (2 + m), x),   m = expm1(-2|x|) in (-1, 0]
    sigmoid(x) = 1 / (1 + e)  (x >= 0),  e / (1 + e)  (x < 0),   e = exp(-|x|)

``expm1`` rather than ``exp`` keeps small |x| accurate (no ``1 - e`` cancellation).

Dtypes are explicit. In Numba, like in NumPy, ``1.0 - y * y`` with a float32 ``y``
is float64 (the literal is a float64), so every function has a float32 and a float64
body with constants of that dtype, and the generic names (:func:`tanh`,
:func:`sigmoid`, :func:`gate_sigmoid`, :func:`tanh_grad`, :func:`sigmoid_grad`,
:func:`relu`, :func:`relu_grad`) pick the body from the argument's type when Numba compiles the
caller (``numba.extending.overload``). Called from Python (or with
``NUMBA_DISABLE_JIT=1``) the same names run the same bodies on NumPy scalars.

For kernel writers (``numba_rnn.py``, ``numba_lstm.py``, ``numba_gru.py``): call these
scalar functions inside the innermost loop over contiguous memory, e.g.
``for i in range(H): h[n, i] = tanh(a[n, i])``; Numba inlines them and LLVM
vectorises the loop. The array helpers :func:`tanh_inplace` and
:func:`sigmoid_inplace` do exactly that for a whole array. Two traps, both measured:

* Index the loop from 0 (``r = a[n, lo:hi]``, then ``for k in range(r.size)``). A loop
  ``for k in range(lo, hi): a[k] = tanh(a[k])`` is not vectorised: Numba cannot prove
  ``k`` non-negative and adds a wraparound test (float32: 5.9 against 0.4 ns per element).
* Call each of these functions at most once per compiled function. Numba inlines them
  into the caller's IR; inlining the same one twice (two loops ``a[i] = tanh(a[i])`` in
  one function, or two calls in one loop) makes Numba print pages of
  ``NumbaIRAssumptionWarning: variable ... is not in scope`` at compile time (harmless:
  the results are right). ``tanh`` and :func:`gate_sigmoid` side by side do not. Give
  each loop that needs the same activation twice its own small function.

:func:`gate_sigmoid` is the cheap sigmoid for the gates of the LSTM and GRU kernels:
``1/2 + 1/2 tanh(x/2)``, nearly as fast as :func:`tanh` and about half the cost of the
full-range :func:`sigmoid` (docs/performance.md's table: vectorised loops over 65536
elements, float32 0.44 against 0.85 ns per element, float64 1.24 against 2.4; tanh
0.39 and 1.15). Its absolute error
is within two ulps of 1/2 (measured: 1.73 in both dtypes; one ulp of 1/2 is 6e-8 in
float32, 1.1e-16 in float64; for results of 1/2 or more that is also its error in ulps
of the result). In
the far negative tail, where the exact value is far below 1/2, the relative accuracy is
lost (sigmoid(-40) = 4e-18 comes out as 0 in float64). That is fine for a gate, whose
value multiplies O(1) quantities: an absolute error of 2e-16 (float64) or 1.2e-7
(float32) in the gate is an error of that size in the state.
Use :func:`sigmoid` where the small values themselves matter (a probability, a loss).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from numrnn.config import NUMBA_JIT_OPTIONS
from numrnn.kernels import numba_cache

# Before any kernel is decorated (every numba_*.py imports this file first): cached
# compiled code is invalidated by an edit to any kernel source, not only its own.
numba_cache.register()

# -- constants, one set per dtype ------------------------------------------------------
# ln 2 = LN2_HI + LN2_LO with LN2_HI short enough that k * LN2_HI is exact.
_LN2_HI_64 = np.float64(6.93147180369123816490e-01)  # fdlibm ln2_hi (32 trailing zero bits)
_LN2_LO_64 = np.float64(1.90821492927058770002e-10)
_INV_LN2_64 = np.float64(1.44269504088896338700e00)
_LN2_HI_32 = np.float32(0.693359375)  # Cephes expf C1 = 355/512
_LN2_LO_32 = np.float32(-2.12194440e-4)
_INV_LN2_32 = np.float32(1.44269504088896341)

# Taylor coefficients 1/j! of expm1(r) = r + r**2 (1/2! + r (1/3! + ...)).
_C64 = tuple(np.float64(1.0 / math.factorial(j)) for j in range(2, 14))  # degree 13
_C32 = tuple(np.float32(1.0 / math.factorial(j)) for j in range(2, 8))  # degree 7

# Clamps: beyond these |x| the result is exact in the dtype (tanh = +-1, sigmoid = 0 or 1)
# and they keep k inside the bits that the power-of-two products below cover.
_TANH_YMAX_64 = np.float64(40.0)  # 2|x| clamp: tanh(20) rounds to 1 in float64
_TANH_YMAX_32 = np.float32(20.0)  # tanh(10) rounds to 1 in float32
_SIG_AMAX_64 = np.float64(746.0)  # exp(-746) underflows to 0 in float64
_SIG_AMAX_32 = np.float32(104.0)  # exp(-104) underflows to 0 in float32

_ONE_64, _TWO_64, _HALF_64 = np.float64(1.0), np.float64(2.0), np.float64(0.5)
_ONE_32, _TWO_32, _HALF_32 = np.float32(1.0), np.float32(2.0), np.float32(0.5)
_ZERO_64, _ZERO_32 = np.float64(0.0), np.float32(0.0)

_JIT = dict(NUMBA_JIT_OPTIONS, inline="always")


# -- 2**-k as a product of selected powers of two (exact) -------------------------------
_P2_64 = tuple(np.float64(2.0 ** -(1 << j)) for j in range(11))  # 2**-1, 2**-2, ..., 2**-1024
_P2_32 = tuple(np.float32(2.0 ** -(1 << j)) for j in range(8))  # 2**-1, ..., 2**-128


@njit(**_JIT)
def _pow2_neg_small_f64(k):
    """``2.0**-k`` for integer 0 <= k < 64, float64, exact."""
    c, one = _P2_64, _ONE_64
    s = c[0] if k & 1 else one
    s = s * (c[1] if k & 2 else one)
    s = s * (c[2] if k & 4 else one)
    s = s * (c[3] if k & 8 else one)
    s = s * (c[4] if k & 16 else one)
    s = s * (c[5] if k & 32 else one)
    return s


@njit(**_JIT)
def _pow2_neg_f64(k):
    """``2.0**-k`` for integer 0 <= k < 2048, float64 (subnormal, then 0, past 2**-1022)."""
    c, one = _P2_64, _ONE_64
    s = c[0] if k & 1 else one
    s = s * (c[1] if k & 2 else one)
    s = s * (c[2] if k & 4 else one)
    s = s * (c[3] if k & 8 else one)
    s = s * (c[4] if k & 16 else one)
    s = s * (c[5] if k & 32 else one)
    s = s * (c[6] if k & 64 else one)
    s = s * (c[7] if k & 128 else one)
    s = s * (c[8] if k & 256 else one)
    s = s * (c[9] if k & 512 else one)
    s = s * (c[10] if k & 1024 else one)
    return s


@njit(**_JIT)
def _pow2_neg_small_f32(k):
    """``2**-k`` for integer 0 <= k < 32, float32, exact."""
    c, one = _P2_32, _ONE_32
    s = c[0] if k & 1 else one
    s = s * (c[1] if k & 2 else one)
    s = s * (c[2] if k & 4 else one)
    s = s * (c[3] if k & 8 else one)
    s = s * (c[4] if k & 16 else one)
    return s


@njit(**_JIT)
def _pow2_neg_f32(k):
    """``2**-k`` for integer 0 <= k < 256, float32 (subnormal, then 0, past 2**-126)."""
    c, one = _P2_32, _ONE_32
    s = _pow2_neg_small_f32(k & 31)
    s = s * (c[5] if k & 32 else one)
    s = s * (c[6] if k & 64 else one)
    s = s * (c[7] if k & 128 else one)
    return s


# -- exp(-y) = 2**-k * (1 + p) for y >= 0 ------------------------------------------------
@njit(**_JIT)
def _exp_neg_parts_f64(y):
    """``(k, p)`` with ``exp(-y) = 2**-k * (1 + p)``, ``p = expm1(r)``, for y >= 0."""
    k = np.int64(y * _INV_LN2_64 + _HALF_64)  # round(y / ln2), y >= 0
    kf = np.float64(k)
    r = (kf * _LN2_HI_64 - y) + kf * _LN2_LO_64  # k ln2 - y, |r| <= ln2/2
    c = _C64
    q = c[11]
    q = c[10] + r * q
    q = c[9] + r * q
    q = c[8] + r * q
    q = c[7] + r * q
    q = c[6] + r * q
    q = c[5] + r * q
    q = c[4] + r * q
    q = c[3] + r * q
    q = c[2] + r * q
    q = c[1] + r * q
    q = c[0] + r * q
    p = r + (r * r) * q  # expm1(r)
    return k, p


@njit(**_JIT)
def _exp_neg_parts_f32(y):
    """float32 twin of :func:`_exp_neg_parts_f64`."""
    k = np.int32(y * _INV_LN2_32 + _HALF_32)
    kf = np.float32(k)
    r = (kf * _LN2_HI_32 - y) + kf * _LN2_LO_32
    c = _C32
    q = c[5]
    q = c[4] + r * q
    q = c[3] + r * q
    q = c[2] + r * q
    q = c[1] + r * q
    q = c[0] + r * q
    p = r + (r * r) * q
    return k, p


# -- tanh -------------------------------------------------------------------------------
@njit(**_JIT)
def tanh_f64(x):
    """tanh of a float64, branch-free (see the module docstring)."""
    a = abs(x)
    y = a + a
    y = y if y < _TANH_YMAX_64 else _TANH_YMAX_64  # also sends nan to the clamp
    k, p = _exp_neg_parts_f64(y)
    s = _pow2_neg_small_f64(k)  # k < 64 after the clamp
    m = (s - _ONE_64) + s * p  # expm1(-2|x|), one rounding
    t = math.copysign(-m / (_TWO_64 + m), x)
    return t if x == x else x  # nan in, nan out


@njit(**_JIT)
def tanh_f32(x):
    """tanh of a float32, branch-free, all arithmetic in float32."""
    a = abs(x)
    y = a + a
    y = y if y < _TANH_YMAX_32 else _TANH_YMAX_32
    k, p = _exp_neg_parts_f32(y)
    s = _pow2_neg_small_f32(k)  # k < 32 after the clamp
    m = (s - _ONE_32) + s * p
    t = math.copysign(-m / (_TWO_32 + m), x)
    return t if x == x else x


# -- sigmoid ----------------------------------------------------------------------------
@njit(**_JIT)
def sigmoid_f64(x):
    """The logistic function of a float64, without overflow, accurate in both tails."""
    a = abs(x)
    a = a if a < _SIG_AMAX_64 else _SIG_AMAX_64
    k, p = _exp_neg_parts_f64(a)
    s = _pow2_neg_f64(k)
    e = s + s * p  # exp(-|x|) in (0, 1]
    v = (_ONE_64 if x >= _ZERO_64 else e) / (_ONE_64 + e)
    return v if x == x else x


@njit(**_JIT)
def sigmoid_f32(x):
    """float32 twin of :func:`sigmoid_f64`."""
    a = abs(x)
    a = a if a < _SIG_AMAX_32 else _SIG_AMAX_32
    k, p = _exp_neg_parts_f32(a)
    s = _pow2_neg_f32(k)
    e = s + s * p
    v = (_ONE_32 if x >= _ZERO_32 else e) / (_ONE_32 + e)
    return v if x == x else x


# -- the gates' sigmoid: 1/2 + 1/2 tanh(x/2) ---------------------------------------------
@njit(**_JIT)
def gate_sigmoid_f64(x):
    """``0.5 + 0.5 * tanh(0.5 * x)`` of a float64 (absolute error within two ulps of 1/2)."""
    return _HALF_64 + _HALF_64 * tanh_f64(_HALF_64 * x)


@njit(**_JIT)
def gate_sigmoid_f32(x):
    """float32 twin of :func:`gate_sigmoid_f64`."""
    return _HALF_32 + _HALF_32 * tanh_f32(_HALF_32 * x)


# -- derivatives from the saved output, dtype kept ---------------------------------------
@njit(**_JIT)
def tanh_grad_f64(dy, y):
    """dL/da for y = tanh(a): ``dy * (1 - y*y)``."""
    return dy * (_ONE_64 - y * y)


@njit(**_JIT)
def tanh_grad_f32(dy, y):
    return dy * (_ONE_32 - y * y)


@njit(**_JIT)
def sigmoid_grad_f64(dy, y):
    """dL/da for y = sigmoid(a): ``dy * y * (1 - y)``."""
    return dy * y * (_ONE_64 - y)


@njit(**_JIT)
def sigmoid_grad_f32(dy, y):
    return dy * y * (_ONE_32 - y)


@njit(**_JIT)
def relu_f64(x):
    """max(x, 0); nan stays nan, like ``np.maximum``."""
    return x if (x > _ZERO_64 or x != x) else _ZERO_64


@njit(**_JIT)
def relu_f32(x):
    return x if (x > _ZERO_32 or x != x) else _ZERO_32


@njit(**_JIT)
def relu_grad_f64(dy, y):
    """dL/da for y = relu(a), from the saved output: ``dy`` where y > 0, else 0."""
    return dy if y > _ZERO_64 else _ZERO_64


@njit(**_JIT)
def relu_grad_f32(dy, y):
    return dy if y > _ZERO_32 else _ZERO_32


# -- generic names: the dtype picks the body ---------------------------------------------
def _is_f32(x) -> bool:
    """Python-side dispatch: float32 NumPy scalar (or 0-d array) or not."""
    return getattr(x, "dtype", None) == np.float32


def tanh(x):
    """tanh of a float32 or float64 scalar, in that dtype (vectorisable in Numba loops)."""
    return tanh_f32(x) if _is_f32(x) else tanh_f64(x)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` of a float32 or float64 scalar, in that dtype."""
    return sigmoid_f32(x) if _is_f32(x) else sigmoid_f64(x)


def gate_sigmoid(x):
    """``1/2 + 1/2 tanh(x/2)``: the sigmoid at the cost of a tanh, for gates (module docstring)."""
    return gate_sigmoid_f32(x) if _is_f32(x) else gate_sigmoid_f64(x)


def relu(x):
    """``max(x, 0)`` in the dtype of ``x``."""
    return relu_f32(x) if _is_f32(x) else relu_f64(x)


def tanh_grad(dy, y):
    """``dy * (1 - y*y)`` in the dtype of ``y``."""
    return tanh_grad_f32(dy, y) if _is_f32(y) else tanh_grad_f64(dy, y)


def sigmoid_grad(dy, y):
    """``dy * y * (1 - y)`` in the dtype of ``y``."""
    return sigmoid_grad_f32(dy, y) if _is_f32(y) else sigmoid_grad_f64(dy, y)


def relu_grad(dy, y):
    """``dy`` where ``y > 0``, else 0, in the dtype of ``y``."""
    return relu_grad_f32(dy, y) if _is_f32(y) else relu_grad_f64(dy, y)


def _float_bits(t) -> int | None:
    """32 or 64 for a Numba float type, else None (no overload: Numba reports the type)."""
    return t.bitwidth if isinstance(t, types.Float) else None


# The overloads: when Numba compiles a caller, the argument's type picks the body.
@overload(tanh, inline="always")
def _tanh_overload(x):
    f = {32: tanh_f32, 64: tanh_f64}.get(_float_bits(x))
    return None if f is None else (lambda x: f(x))


@overload(sigmoid, inline="always")
def _sigmoid_overload(x):
    f = {32: sigmoid_f32, 64: sigmoid_f64}.get(_float_bits(x))
    return None if f is None else (lambda x: f(x))


@overload(gate_sigmoid, inline="always")
def _gate_sigmoid_overload(x):
    f = {32: gate_sigmoid_f32, 64: gate_sigmoid_f64}.get(_float_bits(x))
    return None if f is None else (lambda x: f(x))


@overload(relu, inline="always")
def _relu_overload(x):
    f = {32: relu_f32, 64: relu_f64}.get(_float_bits(x))
    return None if f is None else (lambda x: f(x))


@overload(tanh_grad, inline="always")
def _tanh_grad_overload(dy, y):
    f = {32: tanh_grad_f32, 64: tanh_grad_f64}.get(_float_bits(y))
    return None if f is None else (lambda dy, y: f(dy, y))


@overload(sigmoid_grad, inline="always")
def _sigmoid_grad_overload(dy, y):
    f = {32: sigmoid_grad_f32, 64: sigmoid_grad_f64}.get(_float_bits(y))
    return None if f is None else (lambda dy, y: f(dy, y))


@overload(relu_grad, inline="always")
def _relu_grad_overload(dy, y):
    f = {32: relu_grad_f32, 64: relu_grad_f64}.get(_float_bits(y))
    return None if f is None else (lambda dy, y: f(dy, y))


# -- array helpers ------------------------------------------------------------------------
@njit(**_JIT)
def tanh_inplace(a):
    """``a[...] = tanh(a)`` for a contiguous float array of any shape; returns ``a``."""
    flat = a.reshape(-1)
    for i in range(flat.size):
        flat[i] = tanh(flat[i])
    return a


@njit(**_JIT)
def sigmoid_inplace(a):
    """``a[...] = sigmoid(a)`` for a contiguous float array of any shape; returns ``a``."""
    flat = a.reshape(-1)
    for i in range(flat.size):
        flat[i] = sigmoid(flat[i])
    return a


@njit(**_JIT)
def gate_sigmoid_inplace(a):
    """``a[...] = gate_sigmoid(a)`` for a contiguous float array of any shape; returns ``a``."""
    flat = a.reshape(-1)
    for i in range(flat.size):
        flat[i] = gate_sigmoid(flat[i])
    return a
