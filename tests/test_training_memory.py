"""numrnn/training_memory.py: what a training step keeps, the input copy given apart."""

import numpy as np

import numrnn as nr
from numrnn import training_memory as memory


def test_the_input_copy_is_the_first_recurrent_layers_inside_a_sequential():
    """A recurrent layer copies its input at the boundary; inside a Sequential that copy
    was counted as an activation and ``input_bytes`` was 0."""
    T, N, I, H = 30, 3, 5, 8
    x = np.random.default_rng(0).standard_normal((T, N, I)).astype(np.float32)
    alone = memory.training_memory(nr.GRU(I, H, seed=0), x)
    model = nr.Sequential(nr.GRU(I, H, seed=0), nr.LastStep(), nr.Linear(H, 1, seed=1))
    inside = memory.training_memory(model, x)
    assert alone.input_bytes == inside.input_bytes == x.nbytes
    two = nr.Sequential(nr.RNN(I, H, seed=0), nr.RNN(H, H, seed=1))  # the second's input is an activation
    assert memory.training_memory(two, x).input_bytes == x.nbytes


def test_after_an_embedding_the_copy_is_of_the_embedded_sequence():
    T, N, V, E, H = 20, 2, 11, 6, 4
    tokens = np.random.default_rng(1).integers(0, V, (T, N))
    model = nr.Sequential(nr.Embedding(V, E, seed=0), nr.LSTM(E, H, seed=1), nr.LastStep())
    assert memory.training_memory(model, tokens).input_bytes == T * N * E * 4  # float32


def test_a_model_without_a_recurrent_layer_has_no_input_copy():
    x = np.ones((4, 3), np.float32)
    assert memory.training_memory(nr.Linear(3, 2, seed=0), x).input_bytes == 0


def test_describe_prints_the_input_copy_of_a_sequential():
    T, N, I = 40, 2, 4
    model = nr.Sequential(nr.RNN(I, 8, seed=0), nr.LastStep())
    line = memory.describe(model, np.zeros((T, N, I), np.float32))[0]
    assert f"the input copy {T * N * I * 4 / 2**10:,.1f} KiB" in line
