"""PyTorch as the gold model of the parity tests: the torch side lives here, once.

``twin(module)`` builds the ``torch.nn`` module of the same class and configuration
(RNN, LSTM, GRU or a cell) and loads numrnn's ``state_dict`` into it: the names and
layouts are PyTorch's, so nothing is transposed. ``torch_pass`` runs it forward and
backward with the same upstream gradients numrnn's ``backward`` gets (through
``pack_padded_sequence`` when there are lengths) and returns NumPy arrays.
``assert_close`` and ``max_rel`` measure errors relative to the reference's scale.
"""

import numpy as np

import numrnn as nr


def twin(module):
    import torch

    dtype = torch.float64 if module.dtype == np.float64 else torch.float32
    name = type(module).__name__
    cls = getattr(torch.nn, name)
    kw = dict(bias=module.bias, dtype=dtype)
    if name in ("RNN", "RNNCell"):
        kw["nonlinearity"] = module.nonlinearity
    if not isinstance(module, nr.nn.CellBase):
        kw.update(num_layers=module.num_layers, batch_first=module.batch_first,
                  bidirectional=module.bidirectional)
    if name == "LSTM":
        kw["proj_size"] = module.proj_size
    t = cls(module.input_size, module.hidden_size, **kw)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in module.state_dict().items()})
    return t


def _tensor(a, grad=True):
    import torch

    return None if a is None else torch.tensor(np.asarray(a), requires_grad=grad)


def _as_tuple(s):
    return s if isinstance(s, tuple) else (s,)


def torch_pass(t, x, states, dout, dstates, lengths=None, batch_first=False):
    """Forward and backward of torch module ``t``.

    ``states`` is a tuple of initial states (h0,) or (h0, c0) (or None for zeros),
    ``dstates`` the upstream gradients of the final states (entries may be None).
    Returns (out, final states tuple, dx, initial-state gradients tuple, {name: grad}).
    """
    import torch

    xt = _tensor(x)
    st = None if states is None else tuple(_tensor(s) for s in states)
    arg = xt
    if lengths is not None:
        arg = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.as_tensor(lengths), batch_first=batch_first,
                                                      enforce_sorted=False)
    if isinstance(t, torch.nn.modules.rnn.RNNCellBase):
        res = t(arg, None if st is None else (st if len(st) > 1 else st[0]))
        out, finals = None, _as_tuple(res)
    else:
        out, finals = t(arg, None if st is None else (st if len(st) > 1 else st[0]))
        finals = _as_tuple(finals)
        if lengths is not None:
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first,
                                                            total_length=x.shape[1 if batch_first else 0])
    loss = 0
    if out is not None:
        loss = (out * torch.from_numpy(np.asarray(dout))).sum()
    for f, d in zip(finals, dstates):
        if d is not None:
            loss = loss + (f * torch.from_numpy(np.asarray(d))).sum()
    t.zero_grad()
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in t.named_parameters()}
    dst = None if st is None else tuple(s.grad.numpy() for s in st)
    return (None if out is None else out.detach().numpy(), tuple(f.detach().numpy() for f in finals),
            xt.grad.numpy(), dst, grads)


def assert_close(a, b, rtol):
    """Fail unless max|a - b| <= rtol * max|b| (relative to the reference's scale)."""
    assert np.shape(a) == np.shape(b), (np.shape(a), np.shape(b))
    err = max_rel(a, b)
    assert err <= rtol, f"relative error {err:.2e} > {rtol:g}"


def max_rel(a, b) -> float:
    """max |a - b| / max |b| over all entries (the parity metric of ``assert_close``)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max(initial=0.0) / max(np.abs(b).max(initial=0.0), 1e-30))
