import numpy as np
import pytest

from numrnn.data import HELLO_VOCAB, decode, encode, hello_ohlol, one_hot


def test_hello_ohlol_shapes_and_content():
    x, y = hello_ohlol()
    assert x.shape == (5, 1, 4) and x.dtype == np.float32 and y.shape == (5, 1)
    assert decode(x.argmax(-1)[:, 0], HELLO_VOCAB) == "hello"
    assert decode(y[:, 0], HELLO_VOCAB) == "ohlol"


def test_one_hot_and_errors():
    np.testing.assert_array_equal(one_hot([1, 0], 3), [[0, 1, 0], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        one_hot([3], 3)
    with pytest.raises(TypeError, match="integers"):
        one_hot([0.5], 3)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        encode("hex", HELLO_VOCAB)
