"""Worked examples, run as ``python -m numrnn train <example>``; one file each.

* ``sine``: forecast the next value of a sine wave from a window of 20 (many-to-one
  regression; RNN, Linear head, MSE, Adam).
* ``hello``: "hello" -> "ohlol" one character at a time (many-to-many), with one-hot
  inputs and with an embedding.
* ``chars``: a character-level language model on the standard library's own source
  (min-char-rnn, batched), with temperature sampling and perplexity.
* ``classify``: many-to-one classification of synthetic movie reviews of different
  lengths, with negation ("not good").

Each file builds its data, its model (``nr.Sequential`` of layers), trains with a
progress bar, saves a loss-curve PNG and a checkpoint under ``--out``, and prints
whether it reached its target. ``common.py`` holds what they share.
"""

EXAMPLES = ("sine", "hello", "chars", "classify")
