"""Making BPTT visible: how the gradient dL/dh_t changes as it flows back in time.

Backpropagation through an Elman cell multiplies the carried gradient at every step
by the step Jacobian

    J_t = dh_t/dh_{t-1} = diag(f'(a_t)) @ W_hh                        (H, H)

so the gradient that reaches h_t from a loss at the last step T is

    dL/dh_t = dL/dh_T @ J_T @ ... @ J_{t+1}

Unless the product stays near norm 1, ||dL/dh_t|| shrinks (or grows) geometrically as
t moves away from the loss: the vanishing (or exploding) gradient. Here that loop is
run with the textbook step functions of ``numrnn.functional`` and measured:

* :func:`hidden_grads`, :func:`hidden_grad_norms`: dL/dh_t at every step, every unit;
* :func:`state_jacobians`, :func:`jacobian_norms`: dh_T/dh_t, built one row at a
  time by pushing unit vectors back through the step backward functions (each is a
  vector-Jacobian product), so the same code serves RNN, LSTM and GRU;
* :func:`rnn_step_jacobian`: J_t of the Elman cell written out, for comparison;
* :func:`saturation`: the share of tanh units and sigmoid gates whose derivative is
  nearly zero, the usual reason the product above collapses;
* :func:`spectral_radius`, :func:`recurrent_spectral_radii`: max |eigenvalue| of W_hh
  (of each gate's block for LSTM and GRU), which sets the growth rate when the
  nonlinearity is in its linear range.

The functions read layer 0, direction 0 of any recurrent layer (``numrnn.RNN``,
``LSTM``, ``GRU``, or a ``numrnn.Recurrent`` over a user's cell): they run the cell's own
step functions, as its :class:`~numrnn.CellSpec` describes them, so nothing here depends
on which cell it is. They take time-major input x (T, N, I). The heatmap PNG is drawn
by :func:`numrnn.plotting.save_heatmap`. See docs/diagnostics.md.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from numrnn._checks import check_positive_int, check_shape
from numrnn.cells.generic import GenericCache, run_step_backward, sequence_forward
from numrnn.errors import UsageTypeError, UsageValueError
from numrnn.nn.recurrent import Recurrent

#: Saturation thresholds, on the unit's output y. tanh: |y| > 0.95 means
#: f' = 1 - y**2 < 0.0975, under a tenth of its peak 1. sigmoid: y < 0.05 or
#: y > 0.95 means f' = y(1 - y) < 0.0475, under a fifth of its peak 0.25.
TANH_SATURATED = 0.95
SIGMOID_SATURATED = 0.05


class TextbookRun(NamedTuple):
    """A forward of layer 0 with the cell's step functions: what the backward loops need."""

    h: np.ndarray  # (T, N, P) hidden state after every step
    cache: GenericCache  # the generic loop's: the T step caches, shapes and weights

    @property
    def cell(self):
        """The cell's CellSpec."""
        return self.cache.spec

    @property
    def steps(self) -> list:
        """T step caches (RNNStepCache, LSTMStepCache, GRUStepCache, or a user cell's)."""
        return self.cache.steps

    @property
    def state_sizes(self) -> tuple:
        """(P,), or (P, H) for an LSTM's (h, c)."""
        return tuple(shape[1] for shape in self.cache.state_shapes)


def _check_model(model) -> None:
    if not isinstance(model, Recurrent):
        raise UsageTypeError("diagnostics need a recurrent layer: a numrnn.RNN, LSTM or GRU, or a "
                             f"numrnn.Recurrent over any cell; got {type(model).__name__}")


def _check_x(model, x) -> np.ndarray:
    """``x`` as a (T, N, I) array of the model's dtype, or a ValueError."""
    x = np.asarray(x, dtype=model.dtype)
    if x.ndim != 3 or x.shape[2] != model.input_size:
        raise UsageValueError(f"diagnostics: x must be time-major (T, N, {model.input_size}); "
                              f"got shape {x.shape}")
    return x


def run_textbook(model, x, h0=None) -> TextbookRun:
    """Layer 0, direction 0 of ``model`` over ``x``, step by step with the cell's step functions.

    Parameters
    ----------
    model : a recurrent layer (deeper or bidirectional ones are read at their first
        layer and forward direction only).
    x : (T, N, I) time-major input.
    h0 : (N, P) initial hidden state (zeros when ``None``); the other states (an
        LSTM's c0) start at zero.
    """
    _check_model(model)
    x = _check_x(model, x)
    N = x.shape[1]
    sizes = model.cell.state_sizes(model.hidden_size, model.output_size)
    states = [np.zeros((N, s), dtype=model.dtype) for s in sizes]
    if h0 is not None:
        h0 = np.asarray(h0, dtype=model.dtype)
        check_shape(h0, (N, sizes[0]), "h0", "diagnostics", "(N, P): one state per sequence of x")
        states[0] = h0
    weights = tuple(None if w is None else np.asarray(w) for w in model.layer_weights(0, 0))
    seqs, cache = sequence_forward(model.cell, x, tuple(states), *weights, **model.options)
    return TextbookRun(seqs[0], cache)


def _step_back(run: TextbookRun, dstate: tuple, t: int) -> tuple:
    """dL/d(states before step t+1) from dL/d(states after it): a vector-Jacobian product."""
    c = run.cache
    return run_step_backward(c.spec, dstate, c.steps[t], c.x_shape[1:], c.weights)[1]


# -- dL/dh_t ------------------------------------------------------------------------------
def hidden_grads(model, x, dout, h0=None) -> np.ndarray:
    """dL/dh_t at every step: what arrives from above at t plus what flows back from t+1.

    Parameters
    ----------
    model, x, h0 : as in :func:`run_textbook`.
    dout : (T, N, P) dL/dh_t from above only (from the loss through the head).

    Returns
    -------
    dh : (T, N, P), ``dh[t]`` = the total dL/dh_t that BPTT carries at step t.
    """
    run = run_textbook(model, x, h0)
    T, N, P = run.h.shape
    dout = np.asarray(dout, dtype=run.h.dtype)
    if dout.shape != (T, N, P):
        raise UsageValueError(f"hidden_grads: dout must have shape {(T, N, P)}; got {dout.shape}")
    dh = np.empty_like(dout)
    carried = tuple(np.zeros((N, s), dtype=dout.dtype) for s in run.state_sizes)
    for t in reversed(range(T)):
        dstate = (dout[t] + carried[0],) + carried[1:]  # an LSTM's c gets nothing from above
        dh[t] = dstate[0]
        carried = _step_back(run, dstate, t)
    return dh


def hidden_grad_norms(model, x, dh_last, h0=None) -> np.ndarray:
    """||dL/dh_t|| for every step t when the loss reads only the last state.

    Parameters
    ----------
    model : a ``numrnn.RNN``, ``LSTM`` or ``GRU`` (layer 0, forward direction).
    x : (T, N, I) time-major input.
    dh_last : (N, P) dL/dh_T, the gradient arriving at the last state.
    h0 : (N, P) initial state, zeros when ``None``.

    Returns
    -------
    norms : (T,) array, ``norms[t]`` = Frobenius norm of dL/dh_t over the batch.
    """
    _check_model(model)
    T, N, _ = _check_x(model, x).shape
    dh_last = np.asarray(dh_last)
    check_shape(dh_last, (N, model.output_size), "dh_last", "hidden_grad_norms", "(N, P)")
    dout = np.zeros((T, N, model.output_size))
    dout[-1] = dh_last
    dh = hidden_grads(model, x, dout, h0)
    return np.sqrt((dh.astype(np.float64) ** 2).sum(axis=(1, 2)))


# -- dh_T/dh_t ------------------------------------------------------------------------------
def state_jacobians(model, x, h0=None) -> np.ndarray:
    """The Jacobian of the last hidden state with respect to the state at every step.

    Row k of dh_T/ds_t is what BPTT brings back to step t from the unit vector
    e_k at the last step, so the Jacobian is built by pushing the P unit vectors back
    through the step backward functions. For an LSTM the state s_t is (h_t, c_t), so
    the columns are the P units of h_t followed by the H units of c_t.

    Returns
    -------
    J : (T, N, P, S) with S = P (RNN, GRU) or P + H (LSTM); step t at index t-1
        (arrays count from 0), so ``J[-1]`` (t = T) is [I | 0].
    """
    run = run_textbook(model, x, h0)
    T, N, P = run.h.shape
    S = sum(run.state_sizes)
    J = np.zeros((T, N, P, S))
    for k in range(P):
        e_k = np.zeros((N, P), dtype=run.h.dtype)
        e_k[:, k] = 1  # dh_T/dh_T row k, for every sample
        dstate = (e_k,) + tuple(np.zeros((N, s), dtype=run.h.dtype) for s in run.state_sizes[1:])
        for t in reversed(range(T)):
            J[t, :, k, :] = np.concatenate(dstate, axis=1)  # (N, S): row k of dh_T/ds at index t
            dstate = _step_back(run, dstate, t)
    return J


def jacobian_norms(model, x, h0=None, ord=2) -> np.ndarray:
    """||dh_T/dh_t|| for every step t, averaged over the batch.

    ``ord=2`` is the spectral norm (the largest gain for any direction of dL/dh_T;
    1 at t = T), ``ord="fro"`` the Frobenius norm (sqrt(P) at t = T); index t-1 holds step t.

    Returns
    -------
    norms : (T,) array.
    """
    J = state_jacobians(model, x, h0)  # (T, N, P, S)
    return np.linalg.norm(J, ord=ord, axis=(2, 3)).mean(axis=1)


def rnn_step_jacobian(step) -> np.ndarray:
    """J_t = dh_t/dh_{t-1} = diag(f'(a_t)) @ W_hh of one Elman step, per sample.

    Parameters
    ----------
    step : an ``RNNStepCache`` (``run_textbook(rnn, x).steps[t]``).

    Returns
    -------
    J : (N, H, H), ``J[n, i, j]`` = dh_t[n, i] / dh_{t-1}[n, j].
    """
    y = step.h_next  # (N, H)
    fprime = 1 - y * y if step.nonlinearity == "tanh" else (y > 0).astype(y.dtype)  # (N, H)
    return fprime[:, :, None] * step.w_hh[None, :, :]  # (N, H, H)


# -- saturation -----------------------------------------------------------------------------
def saturation(model, x, h0=None, tanh_threshold: float = TANH_SATURATED,
               sigmoid_margin: float = SIGMOID_SATURATED) -> dict:
    """The share of units whose derivative is nearly zero, over all steps and samples.

    A tanh unit counts as saturated when |y| > ``tanh_threshold``; a sigmoid gate
    when y < ``sigmoid_margin`` or y > 1 - ``sigmoid_margin``; a ReLU unit when it is
    off (y = 0, derivative exactly 0).

    What is measured is what the cell's spec lists (``CellSpec.activations``); a cell
    that lists nothing gives an empty dict.

    Returns
    -------
    shares : dict name -> share in [0, 1]. RNN: ``"h (tanh)"`` or ``"h (relu off)"``;
        LSTM: gates ``"i"``, ``"f"``, ``"o"`` (sigmoid), ``"g"`` and ``"tanh(c)"``;
        GRU: gates ``"r"``, ``"z"`` (sigmoid) and ``"n"`` (tanh).
    """
    run = run_textbook(model, x, h0)
    if run.cell.activations is None:
        return {}
    saturated = {
        "tanh": lambda y: np.abs(y) > tanh_threshold,
        "sigmoid": lambda y: (y < sigmoid_margin) | (y > 1 - sigmoid_margin),
        "relu": lambda y: y == 0,
    }
    per_step = [run.cell.activations(step) for step in run.steps]
    shares = {}
    for label, (_, kind) in per_step[0].items():
        if kind not in saturated:
            raise UsageValueError(f"saturation: cell {run.cell.name!r} lists {label!r} as {kind!r}; "
                                  f"expected one of {tuple(saturated)}")
        values = np.stack([np.asarray(step[label][0]) for step in per_step])  # (T, N, H)
        shares[label] = float(np.mean(saturated[kind](values)))
    return shares


# -- spectral radius ------------------------------------------------------------------------
def spectral_radius(w) -> float:
    """max |eigenvalue| of a square matrix: the growth rate of ``h @ w.T`` over many steps."""
    w = np.asarray(w)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise UsageValueError(f"spectral_radius needs a square matrix; got shape {w.shape}")
    return float(np.abs(np.linalg.eigvals(w)).max())


def recurrent_spectral_radii(model, layer: int = 0) -> dict:
    """Spectral radius of W_hh, of each gate's (H, H) block for a cell with several gates.

    Returns
    -------
    radii : dict ``"W_h" + gate name -> radius``: ``{"W_hh": r}`` for an RNN,
        ``{"W_hi": .., "W_hf": .., ...}`` for an LSTM, ``{"W_hr": .., "W_hz": .., "W_hn": ..}``
        for a GRU (the gate names of the cell's spec; numbers when it has none). A
        layer with ``proj_size`` has non-square blocks and is refused.
    """
    _check_model(model)
    layer = check_positive_int(layer, "layer", "recurrent_spectral_radii", minimum=0)
    if layer >= model.num_layers:
        raise UsageValueError(f"recurrent_spectral_radii: layer must be < num_layers = {model.num_layers}; "
                              f"got {layer}")
    if model.proj_size:
        raise UsageValueError("recurrent_spectral_radii: with proj_size the blocks of W_hh are not square")
    w_hh = np.asarray(model.params[f"weight_hh_l{layer}"])  # (G*H, H)
    H = model.hidden_size
    gates = model.cell.gate_labels()
    return {f"W_h{g}": spectral_radius(w_hh[k * H:(k + 1) * H]) for k, g in enumerate(gates)}
