"""The exercises: which function, in which student file, checked how, on what inputs,
and which line of the derivation each tensor comes from.

Four kinds of check:

* ``forward``: the outputs against golden values computed by the reference
  (``golden.npz``, written by :mod:`numrnn.exercises.golden` from the cases below);
* ``backward``: :func:`numrnn.check_function` on the student's own forward and
  backward, on inputs drawn from the case's seed;
* ``numerical`` and ``clip``: the two exercises that are not a forward/backward pair
  (:mod:`numrnn.exercises.grader` holds their checks).

Shapes are small (T=5, N=2, I=3, H=4) so that every entry is checked and a whole
grade takes a few seconds. The derivation references use the numbered equations of
docs/bptt.md, (1)..(10), and the labels of docs/lstm_gru.md, (L1)..(L5) and (G1)..(G4);
``tests/exercises/test_catalog.py`` checks that each label exists in its file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: Student file -> the module whose marked source it is written from (in this order).
FILES = {
    "gradcheck.py": "numrnn.exercises.sources.gradcheck",
    "rnn.py": "numrnn.functional.rnn",
    "linear.py": "numrnn.functional.linear",
    "losses.py": "numrnn.functional.losses",
    "lstm.py": "numrnn.functional.lstm",
    "gru.py": "numrnn.functional.gru",
    "clip.py": "numrnn.exercises.sources.clip",
}

T, N, I, H, P, C = 5, 2, 3, 4, 2, 5  # time steps, batch, inputs, hidden, projection, classes


@dataclass(frozen=True)
class Case:
    """One set of inputs: ``build(rng) -> (args, kwargs)`` with ``rng`` seeded by ``seed``."""

    label: str
    seed: int
    build: Callable

    def inputs(self) -> tuple:
        return self.build(np.random.default_rng(self.seed))


@dataclass(frozen=True)
class Exercise:
    """One function the student writes."""

    name: str  # the function, as in numrnn
    file: str  # the student file that holds it
    kind: str  # "forward", "backward", "numerical" or "clip"
    cases: tuple = ()
    forward: str = ""  # "backward": the student's forward it is checked with (same file)
    outputs: tuple = ()  # "forward": names of the outputs compared with the golden values
    returns_cache: bool = True  # "forward": the last returned value is a cache (not compared)
    time_axes: dict = field(default_factory=dict)  # tensor name -> its time axis
    derivation: dict = field(default_factory=dict)  # tensor name -> where it is derived


# -- inputs ------------------------------------------------------------------------------
def _rnn_weights(rng, bias: bool) -> tuple:
    w_ih, w_hh = 0.5 * rng.standard_normal((H, I)), 0.5 * rng.standard_normal((H, H))
    if not bias:
        return w_ih, w_hh, None, None
    return w_ih, w_hh, 0.1 * rng.standard_normal(H), 0.1 * rng.standard_normal(H)


def _rnn_step(nonlinearity: str, bias: bool = True):
    def build(rng):
        x, h = rng.standard_normal((N, I)), rng.standard_normal((N, H))
        return (x, h, *_rnn_weights(rng, bias), nonlinearity), {}
    return build


def _rnn_seq(nonlinearity: str, bias: bool = True):
    def build(rng):
        x, h0 = rng.standard_normal((T, N, I)), rng.standard_normal((N, H))
        return (x, h0, *_rnn_weights(rng, bias), nonlinearity), {}
    return build


def _linear(lead: tuple, bias: bool):
    def build(rng):
        x, w = rng.standard_normal((*lead, I)), rng.standard_normal((H, I))
        return (x, w, rng.standard_normal(H) if bias else None), {}
    return build


def _logits(lead: tuple, scale: float = 1.0):
    def build(rng):
        return (scale * rng.standard_normal((*lead, C)),), {}
    return build


def _cross_entropy(lead: tuple, masked: bool = False, scale: float = 1.0):
    def build(rng):
        z = scale * rng.standard_normal((*lead, C))
        y = rng.integers(0, C, size=lead)
        mask = None
        if masked:
            mask = rng.random(lead) < 0.7
            mask.flat[0] = True  # at least one counted position
        return (z, y, mask), {}
    return build


def _lstm_step(bias: bool, proj: bool):
    def build(rng):
        p = P if proj else H
        x, h, c = rng.standard_normal((N, I)), rng.standard_normal((N, p)), rng.standard_normal((N, H))
        w_ih, w_hh = 0.5 * rng.standard_normal((4 * H, I)), 0.5 * rng.standard_normal((4 * H, p))
        b = (0.5 * rng.standard_normal(4 * H), 0.5 * rng.standard_normal(4 * H)) if bias else (None, None)
        w_hr = 0.5 * rng.standard_normal((P, H)) if proj else None
        return (x, h, c, w_ih, w_hh, *b, w_hr), {}
    return build


def _gru_step(bias: bool):
    def build(rng):
        x, h = rng.standard_normal((N, I)), rng.standard_normal((N, H))
        w_ih, w_hh = 0.5 * rng.standard_normal((3 * H, I)), 0.5 * rng.standard_normal((3 * H, H))
        b = (0.5 * rng.standard_normal(3 * H), 0.5 * rng.standard_normal(3 * H)) if bias else (None, None)
        return (x, h, w_ih, w_hh, *b), {}
    return build


# -- where each tensor is derived -----------------------------------------------------------
_BPTT = "docs/bptt.md"
_LG = "docs/lstm_gru.md"
RNN_STEP = {
    "x": f"{_BPTT} (4) dx_t = da_t @ W_ih, da_t from (3)",
    "h_prev": f"{_BPTT} (5) dh_{{t-1}} = da_t @ W_hh, da_t from (3)",
    "w_ih": f"{_BPTT} (6) dW_ih += da_t.T @ x_t",
    "w_hh": f"{_BPTT} (7) dW_hh += da_t.T @ h_{{t-1}}",
    "b_ih": f"{_BPTT} (8) db_ih += sum over rows of da_t",
    "b_hh": f"{_BPTT} (8) db_hh += sum over rows of da_t",
}
RNN_SEQ = {
    "x": f"{_BPTT} (9) dL/dh_t = dh[t-1] + dh_carry, then (4)",
    "h0": f"{_BPTT} (10) dh0 = dh_carry after step 1",
    "w_ih": f"{_BPTT} (6) summed over every step",
    "w_hh": f"{_BPTT} (7) summed over every step",
    "b_ih": f"{_BPTT} (8) summed over every step",
    "b_hh": f"{_BPTT} (8) summed over every step",
}
LSTM_STEP = {
    "x": f"{_LG} (L1) dx_t = da @ W_ih, da from (L2)",
    "h_prev": f"{_LG} (L1) dh_{{t-1}} = da @ W_hh, da from (L2)",
    "c_prev": f"{_LG} (L3) dc_{{t-1}} = dc * f, dc from (L4)",
    "w_ih": f"{_LG} (L1) dW_ih += da.T @ x_t, gates i, f, g, o",
    "w_hh": f"{_LG} (L1) dW_hh += da.T @ h_{{t-1}}, gates i, f, g, o",
    "b_ih": f"{_LG} (L1) db_ih = sum over rows of da",
    "b_hh": f"{_LG} (L1) db_hh = sum over rows of da",
    "w_hr": f"{_LG} (L5) dW_hr += dh_t.T @ m",
}
GRU_STEP = {
    "x": f"{_LG} (G1) dx_t = da_x @ W_ih, dar and daz from (G2)",
    "h_prev": f"{_LG} (G4) dh_t * z plus (G1) da_h @ W_hh, dahn = dan * r from (G3)",
    "w_ih": f"{_LG} (G1) dW_ih += da_x.T @ x_t",
    "w_hh": f"{_LG} (G1) dW_hh += da_h.T @ h_{{t-1}}, dahn = dan * r from (G3)",
    "b_ih": f"{_LG} (G1) db_ih += sum over rows of da_x",
    "b_hh": f"{_LG} (G1) db_hh += sum over rows of da_h, dahn = dan * r from (G3)",
}
LINEAR = {
    "x": f"{_BPTT} (4), the same product: dx = dy @ w",
    "w": f"{_BPTT} (6), the same product: dw = dy.T @ x",
    "b": f"{_BPTT} (8), the same sum: db = sum over rows of dy",
}
_LOSSES = "docs/training.md, Losses"


EXERCISES = (
    Exercise("numerical_gradient", "gradcheck.py", "numerical",
             derivation={"grad": "docs/gradcheck.md, Central differences",
                         "x": "docs/gradcheck.md: x is perturbed in place, so restore it"}),
    Exercise("rnn_step_forward", "rnn.py", "forward",
             (Case("tanh", 101, _rnn_step("tanh")), Case("relu", 102, _rnn_step("relu")),
              Case("tanh, no bias", 103, _rnn_step("tanh", bias=False))),
             outputs=("h_next",), derivation={"h_next": f"{_BPTT} (1) and (2)"}),
    Exercise("rnn_step_backward", "rnn.py", "backward",
             (Case("tanh", 111, _rnn_step("tanh")), Case("relu, no bias", 112, _rnn_step("relu", False))),
             forward="rnn_step_forward", derivation=RNN_STEP),
    Exercise("rnn_forward", "rnn.py", "forward",
             (Case("tanh", 121, _rnn_seq("tanh")), Case("relu, no bias", 122, _rnn_seq("relu", False))),
             outputs=("h",), time_axes={"h": 0},
             derivation={"h": f"{_BPTT} (1) and (2) at t = 1..T, h_0 = h0"}),
    Exercise("rnn_backward", "rnn.py", "backward",
             (Case("tanh", 131, _rnn_seq("tanh")), Case("tanh, no bias", 132, _rnn_seq("tanh", False))),
             forward="rnn_forward", time_axes={"x": 0}, derivation=RNN_SEQ),
    Exercise("linear_backward", "linear.py", "backward",
             (Case("(N, I), bias", 141, _linear((N,), True)),
              Case("(T, N, I), no bias", 142, _linear((T, N), False))),
             forward="linear_forward", derivation=LINEAR),
    Exercise("log_softmax", "losses.py", "forward",
             (Case("(N, C)", 151, _logits((N,))), Case("(T, N, C)", 152, _logits((T, N))),
              Case("large logits", 153, _logits((N,), scale=1000.0))),
             outputs=("logp",), returns_cache=False,
             derivation={"logp": f"{_LOSSES}: log p = z - max z - log sum exp(z - max z)"}),
    Exercise("softmax_cross_entropy_forward", "losses.py", "forward",
             (Case("(N, C)", 161, _cross_entropy((N,))),
              Case("(T, N, C), masked", 162, _cross_entropy((T, N), masked=True)),
              Case("large logits", 163, _cross_entropy((N,), scale=1000.0))),
             outputs=("loss",), derivation={"loss": f"{_LOSSES}: loss = -(1/M) sum log p[y]"}),
    Exercise("softmax_cross_entropy_backward", "losses.py", "backward",
             (Case("(N, C)", 171, _cross_entropy((N,))),
              Case("(T, N, C), masked", 172, _cross_entropy((T, N), masked=True))),
             forward="softmax_cross_entropy_forward",
             derivation={"logits": f"{_LOSSES}: dz = (softmax(z) - onehot(y)) / M"}),
    Exercise("lstm_step_backward", "lstm.py", "backward",
             (Case("bias", 181, _lstm_step(True, False)),
              Case("projection, no bias", 182, _lstm_step(False, True))),
             forward="lstm_step_forward", derivation=LSTM_STEP),
    Exercise("gru_step_backward", "gru.py", "backward",
             (Case("bias", 191, _gru_step(True)), Case("no bias", 192, _gru_step(False))),
             forward="gru_step_forward", derivation=GRU_STEP),
    Exercise("clip_grad_norm", "clip.py", "clip",
             derivation={"total_norm": "docs/training.md, Gradient clipping: the norm before clipping",
                         "grads": "docs/training.md, Gradient clipping: g *= max_norm / (norm + 1e-6)"}),
)

BY_NAME = {e.name: e for e in EXERCISES}
