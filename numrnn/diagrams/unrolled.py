"""The Elman RNN unrolled over T steps: the forward pass and the gradients of BPTT.

Blue, solid: the forward pass, equations (1)-(2) of ``docs/bptt.md``. Each step t
reads x_t and h_{t-1} and hands h_t to the next step and to the loss.
Red, dashed: the backward pass. The loss sends dh[t-1] = dL/dh_t "from above" into
each step, and every step sends dh_carry (equation (5)) back to the step before it;
their sum (9) is the total gradient a step's backward starts from. What reaches the
left end is dh0 (10); each step also sends dx[t-1] (4) down to its input.

Steps are counted t = 1..T in the maths and live at array index t-1 (grey labels).
"""

from __future__ import annotations

from numrnn.diagrams.draw import BACKWARD, FORWARD, GATE, INDEX, arrow, box, canvas, legend, text
from numrnn.errors import UsageValueError

STEP = 2.7  # distance between two steps
CELL_W, CELL_H = 1.5, 1.1
Y_X, Y_CELL, Y_LOSS = 2.15, 4.3, 7.1


def unrolled_rnn(T: int = 4):
    """Draw the RNN unrolled over ``T`` steps (2 to 6); returns the matplotlib Figure."""
    if not 2 <= T <= 6:
        raise UsageValueError(f"unrolled_rnn draws 2 to 6 steps; got T={T}")
    width = 3.2 + STEP * T
    fig, ax = canvas(width, 7.7, f"The RNN unrolled over T = {T} steps: forward (blue) and BPTT (red)")
    xs = [2.6 + STEP * k for k in range(T)]  # centre of step t = k + 1
    left, right = -CELL_W / 2, CELL_W / 2
    bottom, top = Y_CELL - CELL_H / 2, Y_CELL + CELL_H / 2

    # the initial state h_0 and the loss over all steps
    text(ax, 0.55, Y_CELL + 0.12, "$h_0$", color=FORWARD, fontsize=13)
    text(ax, 0.55, Y_CELL - 0.3, "h0", color=INDEX, fontsize=9, family="monospace")
    box(ax, (xs[0] + xs[-1]) / 2, Y_LOSS, xs[-1] - xs[0] + CELL_W, 0.8,
        "loss L: reads every output $h_t$ (or only $h_T$)", color=GATE["loss"])

    for k, cx in enumerate(xs):
        t = k + 1
        box(ax, cx, Y_CELL, CELL_W, CELL_H, f"step {t}\n(1), (2)", color=GATE["cell"], fontsize=10)
        # input x_t below: forward up, dx down
        text(ax, cx - 0.3, Y_X - 0.15, f"$x_{t}$", color=FORWARD, fontsize=13)
        text(ax, cx - 0.3, Y_X - 0.6, f"x[{t - 1}]", color=INDEX, fontsize=9, family="monospace")
        arrow(ax, [(cx - 0.3, Y_X + 0.2), (cx - 0.3, bottom)])
        arrow(ax, [(cx + 0.3, bottom), (cx + 0.3, Y_X + 0.2)], color=BACKWARD, dashed=True)
        text(ax, cx + 0.4, (Y_X + bottom) / 2, f"dx[{t - 1}]", color=BACKWARD, fontsize=9, ha="left",
             family="monospace")
        # output h_t up to the loss, dh[t-1] = dL/dh_t (from above) down
        arrow(ax, [(cx - 0.3, top), (cx - 0.3, Y_LOSS - 0.4)])
        arrow(ax, [(cx + 0.3, Y_LOSS - 0.4), (cx + 0.3, top)], color=BACKWARD, dashed=True)
        text(ax, cx - 0.4, (top + Y_LOSS) / 2 - 0.2, f"$h_{t}$", color=FORWARD, fontsize=12, ha="right")
        text(ax, cx - 0.4, (top + Y_LOSS) / 2 - 0.55, f"h[{t - 1}]", color=INDEX, fontsize=9,
             ha="right", family="monospace")
        text(ax, cx + 0.4, (top + Y_LOSS) / 2, f"dh[{t - 1}]", color=BACKWARD, fontsize=9,
             ha="left", family="monospace")

        # h_{t-1} into the step (forward) and dh_carry out of it, back in time
        x_from = 1.0 if k == 0 else xs[k - 1] + right
        arrow(ax, [(x_from, Y_CELL + 0.22), (cx + left, Y_CELL + 0.22)])
        arrow(ax, [(cx + left, Y_CELL - 0.22), (x_from, Y_CELL - 0.22)], color=BACKWARD, dashed=True)
        mid = (x_from + cx + left) / 2
        if k == 0:
            text(ax, mid, Y_CELL - 0.55, "dh0\n(10)", color=BACKWARD, fontsize=8, va="top")
        else:
            text(ax, mid, Y_CELL + 0.45, f"$h_{k}$", color=FORWARD, fontsize=12)
            text(ax, mid, Y_CELL - 0.55, "dh_carry\n(5)", color=BACKWARD, fontsize=8, va="top")

    # the last state leaves on the right: PyTorch's h_n
    arrow(ax, [(xs[-1] + right, Y_CELL + 0.22), (xs[-1] + right + 0.8, Y_CELL + 0.22)])
    text(ax, xs[-1] + right + 0.85, Y_CELL + 0.3, f"$h_T = h_{T}$", color=FORWARD, fontsize=11, ha="left")
    text(ax, xs[-1] + right + 0.85, Y_CELL - 0.1, "h_n", color=INDEX, fontsize=9, ha="left",
         family="monospace")

    legend(ax, 0.3, 0.75, [
        (FORWARD, False, "forward: $a_t = x_t W_{ih}^T + h_{t-1} W_{hh}^T + b$ (1), $h_t = f(a_t)$ (2)"),
        (BACKWARD, True, "BPTT: step t starts from dL/d$h_t$ = dh[t-1] + dh_carry (9), sends dx[t-1] (4) "
                         "and dh_carry (5) on; dW sums over steps (6)-(8)"),
    ])
    return fig
