"""256-bit vectors for Numba code: 8 float32 or 4 float64 lanes, kept in registers.

Why this file exists: the recurrent product of a small step (``h_{t-1} @ w_hh.T`` at
N = 16..64, H = 64..512) is fastest as a *register tile*: a 4 x 16 block of the output
held in eight vector registers while the loop runs over the whole inner dimension K,
each step of it loading two vectors of the weight panel and broadcasting four values of
``h``. That is how OpenBLAS's own kernels are written. Numba cannot express it: it turns
LLVM's SLP vectoriser off (numba issue #8705, a miscompilation), and the loop vectoriser
only vectorises the innermost loop, which in a register tile is over the 16 columns, so
the accumulators end up in memory (measured on the 2-core AMD EPYC, one thread, float32:
3 GFLOP/s for the loop version of the tile, 62-90 for the version below, against 23-47
for OpenBLAS's ``np.dot`` at the same sizes; docs/performance.md).

So this file gives Numba a vector type, one LLVM ``<8 x float>`` / ``<4 x double>``
value, and the seven operations a tile needs, each one LLVM instruction::

    vload(a, i)         a[i : i + L]           a 1-D C-contiguous array, L = lanes(a.dtype)
    vstore(a, i, v)     a[i : i + L] = v
    vsplat(x)           (x, x, ..., x)
    vload_splat(a, i)   (a[i], ..., a[i])
    vfma(x, y, z)       x * y + z, lane by lane, rounded once (llvm.fma)
    vadd(x, y)          x + y, lane by lane
    vzero_like(a)       (0, ..., 0) in a's dtype

Compiled, ``vload``/``vstore``/``vload_splat`` check **no bounds** (that is the point:
no index arithmetic in the tile's loop); the caller's index arithmetic must be right, and
the tests run every tile shape under ``NUMBA_DISABLE_JIT=1``, where the same names are
plain NumPy (a vector is an array of L elements) and an index out of range is an
``IndexError``. There ``vfma`` rounds twice (NumPy has no fused multiply-add), which the
tolerance-based tests absorb.

256 bits is AVX2's width, and also what LLVM prefers on AVX-512 machines; on a machine
with narrower vectors LLVM splits each operation in two.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, overload, register_model
from numba.np.arrayobj import make_array

from numrnn.errors import UsageTypeError
from numrnn.kernels import numba_cache

numba_cache.register()

#: Bytes in one vector.
VECTOR_BYTES = 32


def lanes(dtype) -> int:
    """Elements in one vector: 8 for float32, 4 for float64."""
    return VECTOR_BYTES // np.dtype(dtype).itemsize


# -- the Numba type ----------------------------------------------------------------------
class Vector(types.Type):
    """A vector of ``lanes`` elements of ``dtype`` (a Numba float type), held in a register."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.lanes = VECTOR_BYTES * 8 // dtype.bitwidth
        super().__init__(name=f"Vector({dtype} x {self.lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def _flat_float_array(a) -> bool:
    return (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
            and isinstance(a.dtype, types.Float))


def _pointer(context, builder, aryty, ary, index):
    """Address of element ``index`` of a 1-D C-contiguous array, no bounds check."""
    data = make_array(aryty)(context, builder, ary).data
    return builder.gep(data, [index])


def _splat(builder, vty, x):
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
    mask = ir.Constant(ir.VectorType(ir.IntType(32), vty.count), [0] * vty.count)
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined), mask)


# -- the operations, compiled -------------------------------------------------------------
@intrinsic
def _vload(typingctx, a, i):
    if not (_flat_float_array(a) and isinstance(i, types.Integer)):
        return None
    vt = Vector(a.dtype)

    def codegen(context, builder, sig, args):
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1])
        vty = context.get_value_type(vt)
        return builder.load(builder.bitcast(ptr, vty.as_pointer()), align=1)

    return vt(a, types.unliteral(i)), codegen


@intrinsic
def _vstore(typingctx, a, i, v):
    if not (_flat_float_array(a) and isinstance(i, types.Integer) and isinstance(v, Vector)
            and v.dtype == a.dtype):
        return None

    def codegen(context, builder, sig, args):
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1])
        builder.store(args[2], builder.bitcast(ptr, args[2].type.as_pointer()), align=1)
        return context.get_dummy_value()

    return types.none(a, types.unliteral(i), v), codegen


@intrinsic
def _vsplat(typingctx, x):
    if not isinstance(x, types.Float):
        return None
    vt = Vector(x)

    def codegen(context, builder, sig, args):
        return _splat(builder, context.get_value_type(vt), args[0])

    return vt(x), codegen


@intrinsic
def _vload_splat(typingctx, a, i):
    if not (_flat_float_array(a) and isinstance(i, types.Integer)):
        return None
    vt = Vector(a.dtype)

    def codegen(context, builder, sig, args):
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1])
        return _splat(builder, context.get_value_type(vt), builder.load(ptr))

    return vt(a, types.unliteral(i)), codegen


@intrinsic
def _vfma(typingctx, x, y, z):
    if not (isinstance(x, Vector) and x == y == z):
        return None

    def codegen(context, builder, sig, args):
        vty = args[0].type
        bits = sig.args[0].dtype.bitwidth
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                            f"llvm.fma.v{vty.count}f{bits}")
        return builder.call(fn, args)

    return x(x, y, z), codegen


@intrinsic
def _vadd(typingctx, x, y):
    if not (isinstance(x, Vector) and x == y):
        return None

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])

    return x(x, y), codegen


@intrinsic
def _vzero_like(typingctx, a):
    if not (isinstance(a, types.Array) and isinstance(a.dtype, types.Float)):
        return None
    vt = Vector(a.dtype)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vt), None)

    return vt(a), codegen


# -- the public names: NumPy in Python, the intrinsics above in compiled code -------------
def _check_span(a, i) -> None:
    if not (isinstance(a, np.ndarray) and a.ndim == 1 and a.flags.c_contiguous):
        raise UsageTypeError("numba_simd: need a 1-D C-contiguous array")
    if i < 0 or i + lanes(a.dtype) > a.size:
        raise IndexError(f"numba_simd: a vector at {i} runs past an array of {a.size} elements")


def vload(a, i):
    """``a[i : i + L]`` as a vector (L = :func:`lanes` of ``a.dtype``); no bounds check compiled."""
    _check_span(a, i)
    return a[i:i + lanes(a.dtype)].copy()


def vstore(a, i, v) -> None:
    """``a[i : i + L] = v``; no bounds check compiled."""
    _check_span(a, i)
    a[i:i + lanes(a.dtype)] = v


def vsplat(x):
    """The vector with every lane ``x`` (a NumPy float32 or float64 scalar)."""
    return np.full(lanes(x.dtype), x, dtype=x.dtype)


def vload_splat(a, i):
    """The vector with every lane ``a[i]``; no bounds check compiled."""
    if not 0 <= i < a.size:
        raise IndexError(f"numba_simd: index {i} outside an array of {a.size} elements")
    return vsplat(a[i])


def vfma(x, y, z):
    """``x * y + z`` lane by lane (compiled: one rounding; in Python: two)."""
    return x * y + z


def vadd(x, y):
    """``x + y`` lane by lane."""
    return x + y


def vzero_like(a):
    """The zero vector of ``a``'s dtype."""
    return np.zeros(lanes(a.dtype), dtype=a.dtype)


@overload(vload)
def _vload_overload(a, i):
    return lambda a, i: _vload(a, i)


@overload(vstore)
def _vstore_overload(a, i, v):
    return lambda a, i, v: _vstore(a, i, v)


@overload(vsplat)
def _vsplat_overload(x):
    return lambda x: _vsplat(x)


@overload(vload_splat)
def _vload_splat_overload(a, i):
    return lambda a, i: _vload_splat(a, i)


@overload(vfma)
def _vfma_overload(x, y, z):
    return lambda x, y, z: _vfma(x, y, z)


@overload(vadd)
def _vadd_overload(x, y):
    return lambda x, y: _vadd(x, y)


@overload(vzero_like)
def _vzero_like_overload(a):
    return lambda a: _vzero_like(a)


@overload(lanes)
def _lanes_overload(dtype):
    """In compiled code ``lanes(a.dtype)`` is a constant."""
    if isinstance(dtype, types.DType) and isinstance(dtype.dtype, types.Float):
        n = VECTOR_BYTES * 8 // dtype.dtype.bitwidth
        return lambda dtype: n
    return None
