"""Gradient-check exercises: a student folder, a grader, and training with the result.

    python -m numrnn exercises make DIR [--solutions] [--force]
    python -m numrnn exercises grade DIR [--only NAME]
    python -m numrnn exercises train DIR

The exercises are the textbook itself: ``numrnn/functional/*.py`` and the two files
in ``numrnn/exercises/sources/`` mark what a student writes with nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines, and ``make`` writes a copy with
each marked region replaced by ``raise NotImplementedError()`` (:mod:`.student`).
``grade`` (:mod:`.grader`) imports the student's files and checks every function:
forwards against golden values shipped in ``golden.npz`` (:mod:`.golden`), backwards
with :func:`numrnn.check_function`. The list of exercises is :mod:`.catalog`.
``train`` (:mod:`.train`) plugs the student's RNN functions into ``nr.Recurrent``
through a ``nr.CellSpec`` and learns "hello" -> "ohlol". docs/exercises.md is the
instructor's guide.

This package's ``__init__`` imports nothing: ``numrnn.gradcheck`` imports
``sources/gradcheck.py`` while numrnn itself is being imported.
"""
