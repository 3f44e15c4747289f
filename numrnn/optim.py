"""Optimizers that update a module's ``params`` in place from its ``grads``.

Each follows ``torch.optim``'s update rule exactly (the same operations in the same
order), so the same gradients give the same weights step by step; tests/test_optim.py
checks this against PyTorch. Per-parameter state lives in ``self.state[key]``, a dict
named as in PyTorch (``momentum_buffer``, ``exp_avg``, ``sum``, ``square_avg``...),
and :meth:`Optimizer.state_dict` / :meth:`Optimizer.load_state_dict` save and restore
it for checkpoints.

``target`` is a module, a list of modules, or a pair of dicts ``(params, grads)``
with the same keys (:mod:`numrnn.targets`).
"""

from __future__ import annotations

import numpy as np

from numrnn._checks import check_bool, check_real
from numrnn.backend import get_array_module
from numrnn.device import to_device
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.targets import params_and_grads


def _params_and_grads(target) -> list:
    """[(key, param array, grad array)]: see :mod:`numrnn.targets`."""
    return params_and_grads(target, "optimizer")


def _check_nonnegative(owner: str, **values) -> None:
    for name, v in values.items():
        check_real(v, name, owner, low=0)


class Optimizer:
    """Base class: holds (param, grad) pairs and per-parameter state.

    Every optimizer here takes ``weight_decay`` as torch.optim does (L2: ``g = grad +
    weight_decay * p``); :meth:`step` adds that term once, before the subclass's rule.
    """

    weight_decay = 0.0

    def __init__(self, target, lr: float):
        self.lr = check_real(lr, "lr", type(self).__name__, low=0, low_open=True)
        self.target = target
        _params_and_grads(target)  # a bad target fails here, not at the first step
        self.state: dict = {}  # key -> {buffer name -> array}
        self.steps = 0

    def zero_grad(self) -> None:
        """Zero every gradient the optimizer updates from."""
        for _, _, g in _params_and_grads(self.target):
            g[...] = 0

    def step(self) -> None:
        """One update of every parameter, in place."""
        self.steps += 1
        for key, p, g in _params_and_grads(self.target):
            if self.weight_decay:
                g = g + self.weight_decay * p  # a new array: the module's grads stay as they are
            self._update(key, p, g, self.state.setdefault(key, {}))

    def _update(self, key, p, g, state: dict) -> None:
        """The optimizer's rule for one parameter; ``g`` already holds the decay term."""
        raise NotImplementedError

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"type", "steps", "lr", "state": {key: {name: NumPy array}}}``, copies."""
        def host(a):  # a NumPy copy, wherever the state lives
            return np.array(to_device(a, "numpy"), copy=True)

        return {
            "type": type(self).__name__,
            "steps": self.steps,
            "lr": self.lr,
            "state": {k: {n: host(a) for n, a in s.items()} for k, s in self.state.items()},
        }

    def load_state_dict(self, sd: dict) -> None:
        """Restore what :meth:`state_dict` gave (onto the parameters' array module)."""
        name = type(self).__name__
        if not isinstance(sd, dict) or not {"type", "steps", "state"} <= set(sd):
            raise UsageValueError(f"{name}.load_state_dict: expected a dict from state_dict(); got "
                                  f"{sd!r:.80}")
        if sd["type"] != name:
            raise UsageValueError(f"{name}.load_state_dict: the state was saved by {sd['type']}, not {name}")
        params = {k: p for k, p, _ in _params_and_grads(self.target)}
        unknown = sorted(set(sd["state"]) - set(params))
        if unknown:
            raise UsageValueError(f"{name}.load_state_dict: state for unknown parameters {unknown}")
        state = {}
        for k, bufs in sd["state"].items():
            xp = get_array_module(params[k])
            state[k] = {}
            for n, a in bufs.items():
                a = np.asarray(a)
                if a.shape != params[k].shape:
                    raise UsageValueError(f"{name}.load_state_dict: {k}.{n} has shape {a.shape}, "
                                          f"the parameter {tuple(params[k].shape)}")
                state[k][n] = xp.asarray(a, dtype=params[k].dtype)
        self.state = state
        self.steps = int(sd["steps"])
        self.lr = float(sd.get("lr", self.lr))


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

        g = grad + weight_decay * p
        b = momentum * b + (1 - dampening) * g     (b = g at the first step)
        g = g + momentum * b  if nesterov else b
        p = p - lr * g
    """

    def __init__(self, target, lr: float = 1e-2, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(target, lr)
        _check_nonnegative("SGD", momentum=momentum, dampening=dampening, weight_decay=weight_decay)
        nesterov = check_bool(nesterov, "nesterov", "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise UsageValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), nesterov

    def _update(self, key, p, g, state) -> None:
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with PyTorch's bias correction and ``eps`` placement.

        m = b1 * m + (1 - b1) * g;     v = b2 * v + (1 - b2) * g*g
        p = p - (lr / (1 - b1**t)) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)

    ``weight_decay`` adds ``weight_decay * p`` to g (L2, as ``torch.optim.Adam``).
    """

    def __init__(self, target, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(target, lr)
        if not isinstance(betas, (tuple, list)):
            raise UsageTypeError(f"Adam: betas must be a pair (beta1, beta2); got {betas!r}")
        if len(betas) != 2:
            raise UsageValueError(f"Adam: betas must be a pair (beta1, beta2); got {len(betas)} "
                                  f"values {betas!r}")
        self.b1, self.b2 = (check_real(b, f"betas[{i}]", "Adam", 0, 1, high_open=True)
                            for i, b in enumerate(betas))
        _check_nonnegative("Adam", eps=eps, weight_decay=weight_decay)
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def _update(self, key, p, g, state) -> None:
        xp = get_array_module(p)
        if not state:
            state["exp_avg"], state["exp_avg_sq"] = xp.zeros_like(p), xp.zeros_like(p)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= self.b1
        m += (1 - self.b1) * g
        v *= self.b2
        v += (1 - self.b2) * g * g
        t = self.steps
        step_size = self.lr / (1 - self.b1**t)
        denom = xp.sqrt(v) / (1 - self.b2**t) ** 0.5 + self.eps
        p -= (step_size * (m / denom)).astype(p.dtype, copy=False)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) with ``torch.optim.Adagrad``'s rule (``eps`` added
    after the square root)::

        g   = grad + weight_decay * p
        s   = s + g*g                         (s starts at initial_accumulator_value)
        p   = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    Karpathy's min-char-rnn uses Adagrad too, but puts its 1e-8 *inside* the square
    root, ``p -= lr * g / sqrt(s + 1e-8)`` with s starting at 0. With the defaults here
    (torch's: s from 0, eps = 1e-10 outside) the two differ where s is not far above
    1e-8, i.e. for gradients of about 1e-4 and less: a first gradient of 1e-5 moves its
    weight by lr here and by lr / 10 in min-char-rnn. ``initial_accumulator_value=1e-8,
    eps=0`` reproduces min-char-rnn exactly (s then starts at 1e-8, so sqrt(s) is its
    sqrt(s + 1e-8); tests/examples/test_minimal.py checks it against
    ``numrnn/examples/minimal.py``, min-char-rnn in one file).
    """

    def __init__(self, target, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(target, lr)
        _check_nonnegative("Adagrad", lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        self.lr_decay, self.weight_decay = float(lr_decay), float(weight_decay)
        self.initial_accumulator_value, self.eps = float(initial_accumulator_value), float(eps)

    def _update(self, key, p, g, state) -> None:
        xp = get_array_module(p)
        if not state:
            state["sum"] = xp.full_like(p, self.initial_accumulator_value)
        s = state["sum"]
        s += g * g
        clr = self.lr / (1 + (self.steps - 1) * self.lr_decay)
        p -= clr * (g / (xp.sqrt(s) + self.eps))


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e) with ``torch.optim.RMSprop``'s rule::

        g   = grad + weight_decay * p
        v   = alpha * v + (1 - alpha) * g*g
        avg = sqrt(v - mean_g**2) + eps  if centered (mean_g = alpha * mean_g + (1 - alpha) * g)
              sqrt(v) + eps              otherwise
        b   = momentum * b + g / avg;  p = p - lr * b     if momentum > 0
        p   = p - lr * g / avg                            otherwise
    """

    def __init__(self, target, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(target, lr)
        _check_nonnegative("RMSprop", alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        self.alpha, self.eps = float(alpha), float(eps)
        self.weight_decay, self.momentum = float(weight_decay), float(momentum)
        self.centered = check_bool(centered, "centered", "RMSprop")

    def _update(self, key, p, g, state) -> None:
        xp = get_array_module(p)
        if not state:
            state["square_avg"] = xp.zeros_like(p)
            if self.centered:
                state["grad_avg"] = xp.zeros_like(p)
            if self.momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(p)
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * g * g
        if self.centered:
            mean_g = state["grad_avg"]
            mean_g += (1 - self.alpha) * (g - mean_g)  # torch's lerp: alpha*mean_g + (1-alpha)*g
            avg = xp.sqrt(v - mean_g * mean_g) + self.eps
        else:
            avg = xp.sqrt(v) + self.eps
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g / avg
            p -= self.lr * buf
        else:
            p -= self.lr * (g / avg)


__all__ = ["SGD", "Adagrad", "Adam", "Optimizer", "RMSprop"]
