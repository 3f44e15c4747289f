"""One thread telling another how far it got, inside compiled code.

The backward kernels can run the weight-gradient GEMMs of the time blocks the time loop
has finished on a second thread while the loop goes on (``numba_layer.py``). The loop
thread *publishes* a counter after each block; the GEMM thread *waits for* it. Both run
compiled code with the GIL released, so the counter is one int64 in a NumPy array,
written with an atomic store that releases (everything the loop wrote before it is
visible to a thread that reads the new value) and read with an atomic load that
acquires. Numba has neither, so they are two LLVM instructions here.

A waiting thread spins for a short while (the value is often about to come), then gives
its core away (``sched_yield``) between reads, then sleeps 20 microseconds between reads:
on a busy machine a spinning waiter would take the core the loop thread needs.

With ``NUMBA_DISABLE_JIT=1`` the same names are plain Python: a store, and a loop that
sleeps for 0 s (which releases the GIL) until the value is there.
"""

from __future__ import annotations

import sys
import time

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array

from numrnn.kernels import numba_cache

numba_cache.register()

#: A waiting thread reads the counter this many times in a tight loop, then as many times
#: more with ``sched_yield`` between reads, then sleeps SLEEP_US microseconds between reads.
SPINS = 256
SLEEP_US = 20


def _int64_vector(a) -> bool:
    return isinstance(a, types.Array) and a.ndim == 1 and a.dtype == types.int64


@intrinsic
def _atomic_store(typingctx, a, value):
    if not (_int64_vector(a) and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = make_array(sig.args[0])(context, builder, args[0]).data
        builder.store_atomic(args[1], ptr, "release", 8)
        return context.get_dummy_value()

    return types.none(a, types.int64), codegen


@intrinsic
def _atomic_load(typingctx, a):
    if not _int64_vector(a):
        return None

    def codegen(context, builder, sig, args):
        ptr = make_array(sig.args[0])(context, builder, args[0]).data
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(a), codegen


@intrinsic
def _yield_cpu(typingctx):
    def codegen(context, builder, sig, args):
        if sys.platform != "win32":  # POSIX; on Windows the waiting thread only spins
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []),
                                                "sched_yield")
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def _sleep_us(typingctx, us):
    if not isinstance(us, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        if sys.platform != "win32":  # POSIX usleep; on Windows the waiting thread only spins
            fn = cgutils.get_or_insert_function(builder.module,
                                                ir.FunctionType(ir.IntType(32), [ir.IntType(32)]), "usleep")
            builder.call(fn, [builder.trunc(args[0], ir.IntType(32))])
        return context.get_dummy_value()

    return types.none(types.int64), codegen


def publish(counter, value) -> None:
    """``counter[0] = value``, visible to other threads with everything written before it."""
    counter[0] = value


def wait_for(counter, value) -> None:
    """Return once ``counter[0] >= value``, set by another thread with :func:`publish`."""
    while counter[0] < value:
        time.sleep(0)


@overload(publish)
def _publish_overload(counter, value):
    return lambda counter, value: _atomic_store(counter, value)


@overload(wait_for)
def _wait_for_overload(counter, value):
    def impl(counter, value):
        reads = 0
        while _atomic_load(counter) < value:
            reads += 1
            if reads > 2 * SPINS:
                _sleep_us(SLEEP_US)
            elif reads > SPINS:
                _yield_cpu()

    return impl
