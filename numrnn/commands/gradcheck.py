"""``python -m numrnn gradcheck``: the gradient-check table of a recurrent network.

Builds the network the options describe, checks every parameter, the input and the
initial state against central differences in float64, prints the table, and exits
with status 1 when any tensor fails.
"""

from __future__ import annotations

import argparse

import numpy as np

import numrnn as nr
from numrnn import config
from numrnn.argtypes import nonnegative_int, positive_int
from numrnn.cells import get_cell, registered_cells
from numrnn.which_code import which_code


def add_parser(sub) -> None:
    p = sub.add_parser("gradcheck", help="check a network's backward numerically",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cell", choices=registered_cells(), default="rnn",
                   help="a registered recurrent cell (default rnn)")
    p.add_argument("--layers", type=positive_int, default=1, help="num_layers (default 1)")
    p.add_argument("--input-size", type=positive_int, default=3)
    p.add_argument("--hidden-size", type=positive_int, default=4)
    p.add_argument("--proj-size", type=nonnegative_int, default=0,
                   help="projection size, for a cell that takes one (the LSTM)")
    p.add_argument("--seq-len", type=positive_int, default=5, help="T")
    p.add_argument("--batch", type=positive_int, default=2, help="N")
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--batch-first", action="store_true")
    p.add_argument("--no-bias", action="store_true")
    p.add_argument("--nonlinearity", choices=("tanh", "relu"), default=None,
                   help="for a cell with that option (the RNN; default tanh)")
    p.add_argument("--dropout", type=float, default=0.0, help="between layers, held fixed")
    p.add_argument("--backend", default="auto", choices=config.BACKENDS)
    p.add_argument("--tol", type=float, default=None, help="pass mark for the max relative error")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run)


def build_model(args):
    """The layer the parsed options describe: ``nr.Recurrent`` over the registered cell."""
    cell = get_cell(args.cell)
    options = {}
    if args.nonlinearity is not None:
        if "nonlinearity" not in cell.options:
            raise nr.UsageValueError(f"--nonlinearity: cell {cell.name!r} has no nonlinearity option")
        options["nonlinearity"] = args.nonlinearity
    return nr.Recurrent(cell, args.input_size, args.hidden_size, num_layers=args.layers,
                        bias=not args.no_bias, batch_first=args.batch_first, dropout=args.dropout,
                        bidirectional=args.bidirectional, proj_size=args.proj_size, dtype=np.float64,
                        backend=args.backend, seed=args.seed, options=options)


def run(args) -> int:
    model = build_model(args)
    rng = np.random.default_rng(args.seed)
    shape = (args.batch, args.seq_len) if args.batch_first else (args.seq_len, args.batch)
    x = rng.standard_normal((*shape, args.input_size))
    report = nr.check_gradients(model, x, tol=args.tol, seed=args.seed)
    print(report)
    print(f"which code was checked: {which_code(model, probe=x)}")  # the report's copy ran the same
    return 0 if report.ok else 1
