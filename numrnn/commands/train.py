"""``python -m numrnn train <example>``: train one of the worked examples.

Examples (each one file in ``numrnn/examples``, each with its own options; see
``python -m numrnn train <example> --help``):

  sine      forecast a sine wave from a window of 20: test MSE below 1e-3
  hello     "hello" -> "ohlol", one-hot and embedding: predicts "ohlol"
  chars     character-level language model on the standard library's source:
            validation loss below half of ln V (the uniform guess)
  classify  many-to-one sentiment of synthetic reviews: test accuracy above 95%

Each writes a loss-curve PNG and a checkpoint (.npz) to ``--out`` (default
``runs/<example>``), prints ``TARGET REACHED`` or ``TARGET MISSED`` and exits with
status 0 or 1 accordingly.
"""

from __future__ import annotations

import argparse
import importlib

from numrnn.examples import EXAMPLES


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a worked example (sine, hello, chars, classify)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    examples = p.add_subparsers(dest="example", required=True, metavar="EXAMPLE")
    for name in EXAMPLES:
        module = importlib.import_module(f"numrnn.examples.{name}")
        ep = examples.add_parser(name, help=module.__doc__.splitlines()[0], description=module.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(ep)
        ep.set_defaults(run=module.run)
