"""PyTorch as the gold model: every transpose and layout conversion lives here.

``torch_rnn_like(module)`` builds the torch twin of a numrnn recurrent module with the
same weights (through ``state_dict``, which is the point: weights move freely);
``torch_run(...)`` runs forward and backward in torch with given upstream gradients
and returns NumPy arrays shaped like numrnn's results.
"""

from __future__ import annotations

import numpy as np

torch = None


def _torch():
    global torch
    if torch is None:
        import torch as _t

        torch = _t
    return torch


def torch_dtype(dtype):
    t = _torch()
    return t.float64 if np.dtype(dtype) == np.float64 else t.float32


def torch_rnn_like(module):
    """A ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` with ``module``'s config and weights."""
    t = _torch()
    kind = type(module).__name__
    kwargs = dict(num_layers=module.num_layers, bias=module.bias, batch_first=module.batch_first,
                  dropout=0.0, bidirectional=module.bidirectional)
    if kind == "RNN":
        kwargs["nonlinearity"] = module.nonlinearity
    if kind == "LSTM":
        kwargs["proj_size"] = module.proj_size
    cls = {"RNN": t.nn.RNN, "LSTM": t.nn.LSTM, "GRU": t.nn.GRU}[kind]
    twin = cls(module.input_size, module.hidden_size, **kwargs).to(torch_dtype(module.dtype))
    twin.load_state_dict({k: t.from_numpy(np.ascontiguousarray(v)) for k, v in module.state_dict().items()})
    return twin


def torch_run(twin, x, hx, dout, dhx):
    """Forward and backward in torch; returns (out, hx_n, dx, dhx0, param grads) as NumPy.

    ``hx`` and ``dhx`` are arrays, or tuples (h, c) for an LSTM; ``dhx`` may be None.
    """
    t = _torch()

    def leaf(a):
        return t.tensor(np.asarray(a), requires_grad=True)

    xt = leaf(x)
    if isinstance(hx, tuple):
        hxt = tuple(leaf(h) for h in hx)
    else:
        hxt = None if hx is None else leaf(hx)
    out, hn = twin(xt, hxt)
    loss = (out * t.tensor(np.asarray(dout))).sum()
    hn_t = hn if isinstance(hn, tuple) else (hn,)
    dhx_t = dhx if isinstance(dhx, tuple) else (dhx,)
    for h, g in zip(hn_t, dhx_t):
        if g is not None:
            loss = loss + (h * t.tensor(np.asarray(g))).sum()
    loss.backward()

    def np_(a):
        return a.detach().numpy()

    hn_np = tuple(np_(h) for h in hn_t)
    if isinstance(hxt, tuple):
        dh0 = tuple(np_(h.grad) for h in hxt)
    else:
        dh0 = None if hxt is None else np_(hxt.grad)
    grads = {k: np_(p.grad) for k, p in twin.named_parameters()}
    return np_(out), (hn_np if isinstance(hn, tuple) else hn_np[0]), np_(xt.grad), dh0, grads


def max_rel(a, b) -> float:
    """max |a - b| / max(|b|, tiny) over all entries, as one float (parity metric)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))
