"""``python -m numrnn exercises``: the gradient-check exercises (docs/exercises.md).

  make DIR [--solutions] [--force]   write the student folder: rnn.py, lstm.py, gru.py,
                                     linear.py, losses.py, gradcheck.py, clip.py (and a
                                     README.md), each function to write ending in
                                     `raise NotImplementedError()`; --solutions writes
                                     the full version, with nbgrader's markers
  grade DIR [--only NAME]            check every function in DIR (or one function, or
                                     one file): forwards against golden values shipped
                                     with numrnn, backwards with nr.check_function;
                                     prints one row per function and tensor and exits 0
                                     only when everything passes

The exercises always run the NumPy reference path: the student's own functions, called
one by one in Python.
"""

from __future__ import annotations

import argparse

from numrnn.exercises import grader, student


def add_parser(sub) -> None:
    p = sub.add_parser("exercises", help="gradient-check exercises: make a student folder, grade it",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    make = actions.add_parser("make", help="write the student folder (or the solutions)")
    make.add_argument("dir", metavar="DIR", help="the folder to write (made if it does not exist)")
    make.add_argument("--solutions", action="store_true", help="write the full version")
    make.add_argument("--force", action="store_true", help="write into a folder that is not empty, "
                      "overwriting the exercise files")
    make.set_defaults(run=run_make)
    grade = actions.add_parser("grade", help="check every function of a student folder")
    grade.add_argument("dir", metavar="DIR", help="the student folder")
    grade.add_argument("--only", metavar="NAME", help="one function (rnn_step_backward) or one file (rnn.py)")
    grade.set_defaults(run=run_grade)


def run_make(args) -> int:
    written = student.make(args.dir, solutions=args.solutions, force=args.force)
    what = "solutions" if args.solutions else "exercises"
    print(f"wrote the {what} to {args.dir}: {', '.join(p.name for p in written)}")
    if not args.solutions:
        print(f"fill in each `raise NotImplementedError()`, then run: "
              f"python -m numrnn exercises grade {args.dir}")
    return 0


def run_grade(args) -> int:
    result = grader.grade(args.dir, only=args.only)
    print(result)
    return 0 if result.ok else 1
