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
  train DIR                          train "hello" -> "ohlol" with the student's RNN
                                     functions (rnn.py) inside an nr.Recurrent layer;
                                     exits 0 when the network predicts "ohlol"

The exercises always run the NumPy reference path: the student's own functions, called
one by one in Python.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from numrnn.argtypes import positive_float, positive_int
from numrnn.errors import UsageError
from numrnn.exercises import grader, student
from numrnn.exercises import train as training
from numrnn.train import NonFiniteError


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
    train = actions.add_parser("train", help='train "hello" -> "ohlol" with the student\'s RNN functions')
    train.add_argument("dir", metavar="DIR", help="the student folder (its rnn.py)")
    train.add_argument("--steps", type=positive_int, default=200, help="Adam steps (default 200)")
    train.add_argument("--lr", type=positive_float, default=0.05, help="learning rate (default 0.05)")
    train.add_argument("--hidden-size", type=positive_int, default=8, help="H (default 8)")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=run_train)


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


def run_train(args) -> int:
    folder = Path(args.dir)
    where = folder / "rnn.py"
    try:
        module = training.load_rnn(folder)
    except UsageError:  # no rnn.py there: python -m numrnn reports it as misuse
        raise
    except Exception as exc:  # the student's file does not compile, or raises as it runs
        print(f"{where} did not import: {grader.describe_exception(exc, folder.resolve())}")
        return 1
    print(f'training "hello" -> "ohlol" with your functions from {where}: rnn_forward/rnn_backward over '
          f"rnn_step_forward/rnn_step_backward, inside nr.Recurrent (NumPy reference path), "
          f"Linear head, cross-entropy, Adam")

    def report(step, loss, prediction):
        if step == 1 or step % 20 == 0 or step == args.steps:
            print(f'step {step:4d}  loss {loss:.4f}  prediction "{prediction}"')

    try:
        result = training.train(module, steps=args.steps, lr=args.lr, hidden_size=args.hidden_size,
                                seed=args.seed, report=report)
    except NonFiniteError as exc:
        print(f"training stopped: {exc}")
        return 1
    except Exception as exc:  # the student's code raised: say where, as the grader does
        print(f"your rnn.py raised during training: {grader.describe_exception(exc, folder.resolve())}")
        return 1
    when = f'first at step {result.first}' if result.first else "never during training"
    print(f'your RNN: "hello" -> "{result.prediction}" (loss {result.losses[-1]:.4f}; "ohlol" {when}; '
          f"the layer called {result.ran})")
    print(f"{'TARGET REACHED' if result.ok else 'TARGET MISSED'}: your RNN predicts \"{result.prediction}\"")
    return 0 if result.ok else 1
