"""Numerical gradient checking: does a hand-written backward agree with central
differences of its own forward?

    df/dp ~ (f(p + eps) - f(p - eps)) / (2 eps)          (error O(eps**2))

Two entry points, one report:

* :func:`check_gradients` takes any numrnn module (RNN, LSTM, a cell, Linear, a
  user's subclass...), works on a float64 copy and runs the module's *own*
  ``backward`` (so a wrong backward is caught, not bypassed);
* :func:`check_function` takes a pair of functions in the textbook's convention,
  ``forward(*inputs) -> (out, cache)`` and ``backward(dout, cache) -> grads``
  (``numrnn.functional``, or a student's own).

Both draw random upstream gradients ``dout`` for every output, so the scalar under
test is ``f = sum(out * dout)``, and compare every gradient with central differences.
The comparison is CS231n's relative error

    rel_error(a, n) = |a - n| / max(floor, |a| + |n|),   floor = max(1e-8, 1e-4 * max|a|)

reported per tensor as its maximum, with the index where it is reached. The floor is
CS231n's 1e-8, raised for entries 10^4 times smaller than the tensor's largest,
which central differences cannot resolve on their own scale. Small tensors
are checked element by element ("full"); large ones at a random sample of elements
plus a few random directions v, comparing <grad, v> with (f(p+eps v) - f(p-eps v))/2eps
("sampled"). A tensor with a time axis (a sequence input x) also gets its worst error
at every time step, and the report says where the error starts: "dx[0..2] wrong,
dx[3..] correct" is the signature of a gradient not carried back through time.
docs/gradcheck.md explains how to read the report. The parts: ``report.py`` (the
report and the per-step sentence), ``compare.py`` (one tensor against central
differences), ``modules.py`` (:func:`check_gradients`), ``functions.py``
(:func:`check_function`).

:func:`numerical_gradient` itself is written once, in
``numrnn/exercises/sources/gradcheck.py``, the source of the student's exercise.
"""

from numrnn.exercises.sources.gradcheck import numerical_gradient
from numrnn.gradcheck.compare import SCALE_FLOOR, rel_error
from numrnn.gradcheck.functions import check_function
from numrnn.gradcheck.modules import check_gradients
from numrnn.gradcheck.report import GradcheckReport, TensorCheck, describe_steps

__all__ = ["SCALE_FLOOR", "GradcheckReport", "TensorCheck", "check_function", "check_gradients",
           "describe_steps", "numerical_gradient", "rel_error"]
