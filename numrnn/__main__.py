"""The command line: ``python -m numrnn <command> [options]``.

Each command lives in ``numrnn/commands/<name>.py`` with ``add_parser(subparsers)``
(which sets ``run`` as the parser default) and ``run(args) -> exit code``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from numrnn.errors import UsageError

COMMANDS = ("demo", "exercises", "gradcheck", "trace", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m numrnn",
        description="Recurrent networks and backpropagation through time, by hand.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"numrnn.commands.{name}").add_parser(sub)
    return parser


def main(argv=None) -> int:
    """Run one command.

    A bad argument that only the library catches (``--proj-size`` not below
    ``--hidden-size``) raises one of numrnn's own :class:`~numrnn.errors.UsageError`
    subclasses and is reported like argparse's own errors: one message, exit status 2,
    no traceback. Anything else is a bug and keeps its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    sys.exit(main())
