"""numrnn: recurrent networks and backpropagation through time, by hand.

The public names. Importing numrnn loads NumPy only: Numba and CuPy are imported
the first time a backend that needs them runs.
"""

from numrnn.gradcheck import GradcheckReport, check_gradients, numerical_gradient, rel_error
from numrnn.nn import RNN, Module, RNNCell

__version__ = "0.1.0"

__all__ = [
    "GradcheckReport",
    "Module",
    "RNN",
    "RNNCell",
    "__version__",
    "check_gradients",
    "numerical_gradient",
    "rel_error",
]
