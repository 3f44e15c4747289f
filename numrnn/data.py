"""Small built-in data sets: nothing is downloaded.

``hello_ohlol`` is the first exercise of the RNN tutorials numrnn grew from: read "hello" one character at
a time and emit "ohlol", which needs memory (the two l's have different targets).
"""

from __future__ import annotations

import numpy as np

from numrnn.errors import UsageTypeError, UsageValueError

HELLO_VOCAB = "helo"


def one_hot(ids, num_classes: int, dtype=np.float32) -> np.ndarray:
    """Integer ids (...) -> one-hot vectors (..., num_classes)."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise UsageTypeError(f"one_hot: ids must be integers; got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise UsageValueError(f"one_hot: ids must be in [0, {num_classes}); got min {ids.min()}, "
                              f"max {ids.max()}")
    return np.eye(num_classes, dtype=dtype)[ids]


def encode(text: str, vocab: str) -> np.ndarray:
    """Characters -> integer ids (T,) under ``vocab``."""
    unknown = sorted(set(text) - set(vocab))
    if unknown:
        raise UsageValueError(f"encode: characters {unknown} are not in the vocabulary {vocab!r}")
    return np.array([vocab.index(ch) for ch in text], dtype=np.int64)


def decode(ids, vocab: str) -> str:
    """Integer ids -> characters under ``vocab``."""
    return "".join(vocab[int(i)] for i in np.asarray(ids).reshape(-1))


def hello_ohlol(dtype=np.float32):
    """The "hello" -> "ohlol" task, time-major with a batch of one.

    Returns
    -------
    x : (T, 1, V) one-hot inputs for "hello" (T = 5, V = 4: vocabulary ``HELLO_VOCAB``).
    y : (T, 1) integer targets for "ohlol".
    """
    x = one_hot(encode("hello", HELLO_VOCAB), len(HELLO_VOCAB), dtype)[:, None, :]  # (T, 1, V)
    y = encode("ohlol", HELLO_VOCAB)[:, None]  # (T, 1)
    return x, y
