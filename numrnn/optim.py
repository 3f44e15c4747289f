"""Optimizers that update a module's ``params`` in place from its ``grads``.

Each follows ``torch.optim``'s update rule exactly, so the same gradients give the
same weights step by step (tests/test_optim.py checks this against PyTorch).

``target`` is a module, a list of modules, or a pair of dicts ``(params, grads)``
with the same keys.
"""

from __future__ import annotations

from numrnn.backend import get_array_module


def _params_and_grads(target) -> list:
    """[(key, param array, grad array)] for a module, a list of modules or (params, grads)."""
    if isinstance(target, tuple) and len(target) == 2 and all(isinstance(d, dict) for d in target):
        params, grads = target
        return [(k, params[k], grads[k]) for k in params]
    modules = target if isinstance(target, (list, tuple)) else [target]
    out = []
    for i, m in enumerate(modules):
        if not (hasattr(m, "params") and hasattr(m, "grads")):
            raise TypeError(
                f"optimizer target must be a module, a list of modules or (params, grads); "
                f"got {type(m).__name__}"
            )
        grads = m.grads
        out += [(f"{i}.{k}", p, grads[k]) for k, p in m.params.items()]
    return out


class Optimizer:
    """Base class: holds (param, grad) pairs and per-parameter state."""

    def __init__(self, target, lr: float):
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be > 0; got {lr!r}")
        self.lr = float(lr)
        self.target = target
        self.state: dict = {}
        self.steps = 0

    def zero_grad(self) -> None:
        """Zero every gradient the optimizer updates from."""
        for _, _, g in _params_and_grads(self.target):
            g[...] = 0

    def step(self) -> None:
        """One update of every parameter, in place."""
        self.steps += 1
        for key, p, g in _params_and_grads(self.target):
            self._update(key, p, g)

    def _update(self, key, p, g) -> None:
        raise NotImplementedError


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
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)

    def _update(self, key, p, g) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buf = self.state.get(key)
            if buf is None:
                buf = self.state[key] = g.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with PyTorch's bias correction and ``eps`` placement.

        m = b1 * m + (1 - b1) * g;     v = b2 * v + (1 - b2) * g*g
        p = p - lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)
    """

    def __init__(self, target, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(target, lr)
        self.b1, self.b2 = (float(b) for b in betas)
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def _update(self, key, p, g) -> None:
        xp = get_array_module(p)
        if self.weight_decay:
            g = g + self.weight_decay * p
        if key not in self.state:
            self.state[key] = (xp.zeros_like(p), xp.zeros_like(p))
        m, v = self.state[key]
        m *= self.b1
        m += (1 - self.b1) * g
        v *= self.b2
        v += (1 - self.b2) * g * g
        t = self.steps
        m_hat = m / (1 - self.b1**t)
        denom = xp.sqrt(v) / (1 - self.b2**t) ** 0.5 + self.eps
        p -= (self.lr * m_hat / denom).astype(p.dtype)
