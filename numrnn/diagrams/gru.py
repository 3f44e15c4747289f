"""The GRU cell with its gates, in PyTorch's form (gate order r, z, n).

The labels (G1)-(G4) are the equations of ``docs/lstm_gru.md``:

    a_x = x_t W_ih^T + b_ih,   a_h = h_{t-1} W_hh^T + b_hh   (N, 3H)  (G1)
    r = sigmoid(a_x,r + a_h,r),   z = sigmoid(a_x,z + a_h,z)         (G2)
    n = tanh(a_x,n + r * a_h,n)                                     (G3)
    h_t = (1 - z) * n + z * h_{t-1}                                 (G4)

The reset gate multiplies the hidden half of the candidate *after* its matrix product
and bias (a_h,n), which is why a_h,n has a box of its own. The red dashed line is
the direct path of the backward pass, dh_{t-1} gets dh_t * z.
"""

from __future__ import annotations

from numrnn.diagrams.draw import BACKWARD, FORWARD, GATE, arrow, box, canvas, op, text

Y_TOP, Y_BUS = 7.3, 1.0  # the state line h_{t-1} -> h_t, the input bus
X_Z, X_R, X_N, X_XN = 2.6, 4.2, 6.4, 7.9  # columns: gates z, r; candidate n; a_x,n
W, H = 0.95, 0.9  # gate box


def gru_cell():
    """Draw one GRU step; returns the matplotlib Figure."""
    fig, ax = canvas(11.6, 8.3, "The GRU cell (PyTorch: gates r, z, n)")

    # the state line: h_t = z * h_{t-1} + (1 - z) * n  (G4)
    text(ax, 0.35, Y_TOP + 0.35, "$h_{t-1}$", color=FORWARD, fontsize=12, ha="left")
    arrow(ax, [(0.3, Y_TOP), (X_Z - 0.22, Y_TOP)])
    op(ax, X_Z, Y_TOP, r"$\odot$")
    arrow(ax, [(X_Z + 0.22, Y_TOP), (X_N - 0.22, Y_TOP)])
    op(ax, X_N, Y_TOP, "+")
    arrow(ax, [(X_N + 0.22, Y_TOP), (10.8, Y_TOP)])
    text(ax, 10.85, Y_TOP + 0.3, "$h_t$", color=FORWARD, fontsize=12, ha="left")
    arrow(ax, [(9.8, Y_TOP), (9.8, 8.1)])
    text(ax, 9.9, 7.95, "output $h_t$", color=FORWARD, fontsize=9, ha="left")
    text(ax, X_N + 0.3, Y_TOP + 0.45, r"(G4)  $h_t = z \odot h_{t-1} + (1 - z) \odot n$", fontsize=9,
         ha="left")

    # the input bus: h_{t-1} (down from the state line) and x_t (from below), (G1)
    arrow(ax, [(0.9, Y_TOP), (0.9, Y_BUS), (X_XN, Y_BUS)], head=False)
    text(ax, 1.75, 0.15, "$x_t$", color=FORWARD, fontsize=12, ha="left")
    arrow(ax, [(1.6, 0.05), (1.6, Y_BUS)])
    text(ax, 2.1, Y_BUS - 0.45, r"(G1)  $a_x = x_t W_{ih}^T + b_{ih}$,  $a_h = h_{t-1} W_{hh}^T + b_{hh}$,"
         "  (N, 3H)", fontsize=9, ha="left")

    # the gates z and r (G2)
    y_gate = 2.6
    for name, gx in (("z", X_Z), ("r", X_R)):
        box(ax, gx, y_gate, W, H, f"{name}\n" + r"$\sigma$", color=GATE["sigmoid"], fontsize=10)
        arrow(ax, [(gx, Y_BUS), (gx, y_gate - H / 2)])
    text(ax, (X_Z + X_R) / 2, y_gate - 0.95, r"(G2)  $\sigma(a_x + a_h)$", fontsize=9)
    arrow(ax, [(X_Z, y_gate + H / 2), (X_Z, Y_TOP - 0.22)])  # z scales h_{t-1}
    op(ax, 4.2, 6.4, "1-", fontsize=9)
    arrow(ax, [(X_Z, 6.4), (3.98, 6.4)])
    arrow(ax, [(4.42, 6.4), (X_N - 0.22, 6.4)])

    # the candidate n = tanh(a_x,n + r * a_h,n)  (G3)
    box(ax, X_N, 2.4, 0.9, 0.6, "$a_{h,n}$", fontsize=10)
    box(ax, X_XN, 2.4, 0.9, 0.6, "$a_{x,n}$", fontsize=10)
    for bx in (X_N, X_XN):
        arrow(ax, [(bx, Y_BUS), (bx, 2.1)])
    op(ax, X_N, 3.6, r"$\odot$")
    arrow(ax, [(X_N, 2.7), (X_N, 3.38)])
    arrow(ax, [(X_R, y_gate + H / 2), (X_R, 3.6), (X_N - 0.22, 3.6)])  # r
    op(ax, X_N, 4.6, "+")
    arrow(ax, [(X_N, 3.82), (X_N, 4.38)])
    arrow(ax, [(X_XN, 2.7), (X_XN, 4.6), (X_N + 0.22, 4.6)])
    box(ax, X_N, 5.45, 0.95, 0.7, "n\ntanh", color=GATE["tanh"], fontsize=10)
    arrow(ax, [(X_N, 4.82), (X_N, 5.1)])
    op(ax, X_N, 6.4, r"$\odot$")
    arrow(ax, [(X_N, 5.8), (X_N, 6.18)])
    arrow(ax, [(X_N, 6.62), (X_N, Y_TOP - 0.22)])
    text(ax, X_XN + 0.55, 4.6, r"(G3)  $n = \tanh(a_{x,n} + r \odot a_{h,n})$", fontsize=9, ha="left")
    text(ax, X_XN + 0.55, 4.15, "$r \\odot a_{h,n}$: r acts after the\nmatrix product and the bias",
         fontsize=8, ha="left", va="top")

    # the backward pass's direct path along the state line
    arrow(ax, [(10.8, Y_TOP - 0.5), (0.3, Y_TOP - 0.5)], color=BACKWARD, dashed=True)
    text(ax, 7.2, Y_TOP - 0.8, r"direct path: $dh_{t-1}$ gets $dh_t \odot z$", color=BACKWARD,
         fontsize=9, ha="left")
    return fig
