"""``python -m numrnn.diagrams [DIR]``: write every diagram as a PNG (default docs/img)."""

from __future__ import annotations

import argparse
import sys

from numrnn.diagrams import save_all


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m numrnn.diagrams", description=__doc__)
    parser.add_argument("folder", nargs="?", default="docs/img", help="where to write (default docs/img)")
    args = parser.parse_args(argv)
    for path in save_all(args.folder):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
