"""The LSTM cell with its gates, in PyTorch's form (gate order i, f, g, o).

The labels (L1)-(L5) are the equations of ``docs/lstm_gru.md``:

    a   = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh                    (L1)
    i, f, o = sigmoid(a_i, a_f, a_o),  g = tanh(a_g)                  (L2)
    c_t = f * c_{t-1} + i * g                                         (L3)
    m   = o * tanh(c_t)                                               (L4)
    h_t = m, or m W_hr^T with proj_size                               (L5)

The red dashed line is the backward pass along the cell state, dc_{t-1} = dc * f:
no matrix and no tanh' on the way, which is why the cell state carries gradients far.
"""

from __future__ import annotations

from numrnn.diagrams.draw import BACKWARD, FORWARD, GATE, arrow, box, canvas, op, text

Y_C, Y_GATE, Y_BUS = 6.0, 3.0, 1.0  # the cell-state line, the gates, the input bus
GATE_W, GATE_H = 0.95, 0.9


def lstm_cell():
    """Draw one LSTM step; returns the matplotlib Figure."""
    fig, ax = canvas(11.4, 7.8, "The LSTM cell (PyTorch: gates i, f, g, o)")
    top, bottom = Y_GATE + GATE_H / 2, Y_GATE - GATE_H / 2

    # inputs: h_{t-1} from the left and x_t from below join the bus that feeds every gate (L1)
    text(ax, 0.35, Y_BUS + 0.35, "$h_{t-1}$", color=FORWARD, fontsize=12, ha="left")
    arrow(ax, [(0.3, Y_BUS), (7.2, Y_BUS)], head=False)
    text(ax, 1.85, 0.15, "$x_t$", color=FORWARD, fontsize=12, ha="left")
    arrow(ax, [(1.7, 0.05), (1.7, Y_BUS)])
    text(ax, 2.2, Y_BUS - 0.45, "(L1)  $a = x_t W_{ih}^T + h_{t-1} W_{hh}^T + b$,  (N, 4H)",
         fontsize=9, ha="left")

    gates = {"i": (4.3, "sigmoid", r"$\sigma$"), "f": (3.0, "sigmoid", r"$\sigma$"),
             "g": (5.7, "tanh", "tanh"), "o": (7.2, "sigmoid", r"$\sigma$")}
    for name, (gx, kind, symbol) in gates.items():
        box(ax, gx, Y_GATE, GATE_W, GATE_H, f"{name}\n{symbol}", color=GATE[kind], fontsize=10)
        arrow(ax, [(gx, Y_BUS), (gx, bottom)])
    text(ax, 2.3, Y_GATE, "(L2)", fontsize=9, ha="right")

    # the cell-state line: c_t = f * c_{t-1} + i * g  (L3)
    text(ax, 0.35, Y_C + 0.35, "$c_{t-1}$", color=FORWARD, fontsize=12, ha="left")
    arrow(ax, [(0.3, Y_C), (2.78, Y_C)])
    op(ax, 3.0, Y_C, r"$\odot$")
    arrow(ax, [(3.0, top), (3.0, Y_C - 0.22)])
    arrow(ax, [(3.22, Y_C), (4.78, Y_C)])
    op(ax, 5.0, Y_C, "+")
    op(ax, 5.0, 4.5, r"$\odot$")
    arrow(ax, [(4.3, top), (4.3, 4.5), (4.78, 4.5)])
    arrow(ax, [(5.7, top), (5.7, 4.5), (5.22, 4.5)])
    arrow(ax, [(5.0, 4.72), (5.0, Y_C - 0.22)])
    arrow(ax, [(5.22, Y_C), (10.6, Y_C)])
    text(ax, 10.65, Y_C + 0.3, "$c_t$", color=FORWARD, fontsize=12, ha="left")
    text(ax, 3.9, Y_C + 0.45, r"(L3)  $c_t = f \odot c_{t-1} + i \odot g$", fontsize=9)

    # the output: m = o * tanh(c_t)  (L4), h_t = m or m W_hr^T  (L5)
    arrow(ax, [(8.4, Y_C), (8.4, 4.95)])
    box(ax, 8.4, 4.6, 1.0, 0.7, "tanh", color=GATE["tanh"], fontsize=10)
    op(ax, 8.4, Y_GATE, r"$\odot$")
    arrow(ax, [(8.4, 4.25), (8.4, Y_GATE + 0.22)])
    arrow(ax, [(7.2 + GATE_W / 2, Y_GATE), (8.18, Y_GATE)])
    text(ax, 8.7, Y_GATE + 0.25, r"(L4)  $m = o \odot \tanh(c_t)$", fontsize=9, ha="left")
    box(ax, 8.4, 1.95, 1.3, 0.75, "$\\times W_{hr}^T$ (L5)\nproj_size only", fontsize=8, dashed=True)
    arrow(ax, [(8.4, Y_GATE - 0.22), (8.4, 2.33)])
    text(ax, 8.55, 2.55, "m", fontsize=10, ha="left")
    arrow(ax, [(8.4, 1.57), (8.4, Y_BUS), (10.6, Y_BUS)])
    text(ax, 10.65, Y_BUS + 0.3, "$h_t$", color=FORWARD, fontsize=12, ha="left")
    arrow(ax, [(9.9, Y_BUS), (9.9, 7.5)])
    text(ax, 10.0, 7.35, "output $h_t$", color=FORWARD, fontsize=9, ha="left")

    # the backward pass along the cell state: the gradient highway
    arrow(ax, [(10.6, Y_C - 0.55), (0.3, Y_C - 0.55)], color=BACKWARD, dashed=True)
    text(ax, 0.35, Y_C - 0.85, r"$dc_{t-1} = dc \odot f$: the gradient highway", color=BACKWARD,
         fontsize=9, ha="left")
    return fig
