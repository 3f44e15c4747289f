"""The base class of every layer: parameters and gradients in named dicts.

A module keeps its weights once, in PyTorch's layout and under PyTorch's names
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), in ``self.params``; ``self.grads``
holds an array of the same shape under the same key. ``backward`` *adds* into
``grads``, as PyTorch accumulates into ``.grad``, so ``zero_grad()`` belongs before
each step. A module made of others (``Sequential``) shows its children's entries
under ``"child.name"`` keys.

What a forward keeps for its backward (the *cache*) is kept per thread: a forward and
the backward that follows it in the same thread always belong together, so one module
may be used from several threads at once (each thread's gradients are added into the
shared ``grads`` under a lock). A backward uses up its forward's cache, as PyTorch
frees its graph: a second ``backward`` after one forward raises, unless the forward
was called with ``keep_cache=True`` (PyTorch's ``retain_graph``).
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from numrnn._checks import check_dtype
from numrnn.backend import get_array_module, is_cupy_array
from numrnn.device import array_module, check_device, to_device, to_device_of
from numrnn.errors import UsageTypeError, UsageValueError

#: Serialises the additions into ``grads`` of backward passes running in several threads.
_GRADS_LOCK = threading.Lock()
#: Set while a ``module(x, keep_cache=True)`` call runs: every forward inside it keeps its cache.
_KEEP = threading.local()


class Module:
    """Base class: parameter and gradient dicts, ``state_dict``, train/eval mode."""

    def __init__(self, dtype=np.float32):
        self.dtype = check_dtype(dtype)
        self._params: dict = {}
        self._grads: dict = {}
        self._children: dict = {}
        self._caches: dict = {}  # thread id -> (cache, keep) of that thread's last forward
        self.training = True

    # -- the forward's cache, per thread ------------------------------------------------
    @property
    def _cache(self):
        """The cache of the last forward in the calling thread (``None`` when there is none)."""
        entry = self._caches.get(threading.get_ident())
        return None if entry is None or entry[0] is _USED else entry[0]

    @_cache.setter
    def _cache(self, value) -> None:
        tid = threading.get_ident()
        if value is None:
            self._caches.pop(tid, None)
        else:
            self._caches[tid] = (value, bool(getattr(_KEEP, "on", False)))

    def _saved_cache(self):
        """The calling thread's cache, for a backward; a RuntimeError when there is none
        or when a backward has used it up. The backward calls :meth:`_used_cache` once it
        has succeeded (a backward refused for a bad argument leaves the cache in place)."""
        name = type(self).__name__
        entry = self._caches.get(threading.get_ident())
        if entry is None:
            raise RuntimeError(f"{name}.backward called before forward: run the forward pass first")
        if entry[0] is _USED:
            raise RuntimeError(
                f"{name}.backward called a second time after one forward: the first backward used "
                "up the forward's cache (and added its gradients). Run the forward again, or call "
                "the module with keep_cache=True to backpropagate through one forward more than once"
            )
        return entry[0]

    def _used_cache(self) -> None:
        """Mark the calling thread's cache used by a backward, unless its forward kept it."""
        tid = threading.get_ident()
        entry = self._caches.get(tid)
        if entry is not None and not entry[1]:
            self._caches[tid] = (_USED, False)

    # -- parameters ---------------------------------------------------------------
    def _add_param(self, name: str, value) -> None:
        """Register a parameter (already of the module's dtype) and its zero gradient."""
        self._params[name] = value
        self._grads[name] = value * 0

    def _add_child(self, name: str, module: Module) -> Module:
        self._children[name] = module
        return module

    @property
    def params(self) -> dict:
        """Name -> parameter array (the arrays themselves, not copies)."""
        if not self._children:
            return self._params
        out = dict(self._params)
        for cname, child in self._children.items():
            out.update({f"{cname}.{k}": v for k, v in child.params.items()})
        return out

    @property
    def grads(self) -> dict:
        """Name -> gradient array, same keys and shapes as :attr:`params`."""
        if not self._children:
            return self._grads
        out = dict(self._grads)
        for cname, child in self._children.items():
            out.update({f"{cname}.{k}": v for k, v in child.grads.items()})
        return out

    def _accumulate(self, name: str, value) -> None:
        """Add ``value`` into ``grads[name]`` (no-op for ``None``), moving it to the
        gradient's device first (a GPU backward into a host module's grads)."""
        if value is not None:
            value = to_device_of(value, self._grads[name])
            with _GRADS_LOCK:
                self._grads[name] += value

    def no_grad_entries(self) -> dict:
        """Name -> bool mask of parameter entries that get no gradient by definition
        (an embedding's padding row); the gradient checker skips them. Children's
        entries appear under ``"child.name"`` keys, as in :attr:`params`."""
        out = {}
        for cname, child in self._children.items():
            out.update({f"{cname}.{k}": v for k, v in child.no_grad_entries().items()})
        return out

    def zero_grad(self) -> None:
        """Set every gradient to zero, in place."""
        for g in self.grads.values():
            g[...] = 0

    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    # -- state_dict -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """A dict of NumPy copies of every parameter, under PyTorch's names."""
        return {
            k: (v.get() if is_cupy_array(v) else np.array(v, copy=True))
            for k, v in self.params.items()
        }

    def load_state_dict(self, state: dict) -> None:
        """Copy ``state`` into the parameters, in place.

        ``state`` maps every parameter name to an array-like of the right shape
        (NumPy arrays, lists, PyTorch tensors via ``.numpy()``...). Missing, extra or
        misshaped entries raise a ValueError that lists them; nothing is changed then.
        """
        if not hasattr(state, "keys"):
            raise UsageTypeError(f"load_state_dict expects a dict; got {type(state).__name__}")
        params = self.params
        missing = sorted(set(params) - set(state))
        extra = sorted(set(state) - set(params))
        problems = []
        if missing:
            problems.append(f"missing keys {missing}")
        if extra:
            problems.append(f"unexpected keys {extra}")
        arrays = {}
        for k in params:
            if k in missing:
                continue
            v = state[k]
            if hasattr(v, "detach"):  # a torch.Tensor
                v = v.detach().cpu().numpy()
            try:
                a = np.asarray(v)
            except (TypeError, ValueError) as exc:  # a ragged list: NumPy's "inhomogeneous shape"
                problems.append(f"{k}: expected an array of shape {tuple(params[k].shape)}, got a "
                                f"{type(v).__name__} that is not one ({exc})")
                continue
            if a.dtype.kind not in "fiu":
                problems.append(f"{k}: expected numbers, got dtype {a.dtype}")
            elif a.shape != tuple(params[k].shape):
                problems.append(f"{k}: expected shape {tuple(params[k].shape)}, got {a.shape}")
            else:
                arrays[k] = a
        if problems:
            raise UsageValueError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        for k, a in arrays.items():
            p = params[k]
            p[...] = _to_device_like(a, p)

    # -- modes and casting ------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout on); returns ``self``."""
        self.training = bool(mode)
        for child in self._children.values():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off); returns ``self``."""
        return self.train(False)

    def astype(self, dtype) -> Module:
        """Cast every parameter and gradient to ``dtype`` in place; returns ``self``."""
        self.dtype = check_dtype(dtype)
        self._params = {k: v.astype(self.dtype) for k, v in self._params.items()}
        self._grads = {k: v.astype(self.dtype) for k, v in self._grads.items()}
        self._caches.clear()
        for child in self._children.values():
            child.astype(dtype)
        return self

    def double(self) -> Module:
        """Shorthand for ``astype(np.float64)``."""
        return self.astype(np.float64)

    def to(self, device: str) -> Module:
        """Move every parameter and gradient to ``device``, in place; returns ``self``.

        ``"cupy"`` (or ``"cuda"``/``"gpu"``) puts them in GPU memory as CuPy arrays, and
        a ``backend="auto"`` module then computes with CuPy; ``"numpy"`` (or ``"cpu"``)
        brings them back. ``state_dict()`` returns NumPy arrays either way. Moving to
        the GPU without CuPy or a GPU is a RuntimeError that names what is missing.
        """
        device = check_device(device)
        array_module(device)  # CuPy and a GPU, or the error that says which is missing
        self._params = {k: to_device(v, device) for k, v in self._params.items()}
        self._grads = {k: to_device(v, device) for k, v in self._grads.items()}
        self._caches.clear()  # a forward's cache lives on the old device
        for child in self._children.values():
            child.to(device)
        return self

    @contextlib.contextmanager
    def hold_randomness(self):
        """Within this block, forward passes reuse the random draws (dropout masks) of
        the last forward instead of drawing new ones; used by the gradient checker."""
        held = [m for m in self._walk() if hasattr(m, "_hold_masks")]
        for m in held:
            m._hold_masks = True
        try:
            yield self
        finally:
            for m in held:
                m._hold_masks = False

    def _walk(self):
        yield self
        for child in self._children.values():
            yield from child._walk()

    # -- calling ----------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def backward(self, *args, **kwargs):
        raise NotImplementedError

    def __call__(self, *args, keep_cache: bool = False, **kwargs):
        """``forward(*args, **kwargs)``; with ``keep_cache=True`` the cache of this forward
        (and of every module it calls) survives its backward, so backward can run again."""
        if not keep_cache:
            return self.forward(*args, **kwargs)
        outer = getattr(_KEEP, "on", False)
        _KEEP.on = True
        try:
            return self.forward(*args, **kwargs)
        finally:
            _KEEP.on = outer


class _Used:
    """Marks a cache a backward has used up (so a second backward can say so)."""

    def __repr__(self) -> str:
        return "<used cache>"

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


_USED = _Used()


def _to_device_like(a: np.ndarray, p):
    """``a`` as an array of ``p``'s array module and dtype (for CuPy parameters)."""
    return get_array_module(p).asarray(a, dtype=p.dtype)
