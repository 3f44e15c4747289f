"""sine: forecast the next value of a sine wave from a window of 20 (many-to-one).

The classic regression exercise of RNN tutorials (the ones numrnn grew out of). The
series is sin(t) sampled every 0.1 (about 63 samples a period); each example is a
window of 20 consecutive values and its target is the value that follows. The first
80% of the series trains, the last 20% tests: later in time, never seen in training.

    window (T=20, N, 1) -> RNN(1, 64) -> LastStep -> (N, 64) -> Linear(64, 1) -> (N, 1)

Loss: mean squared error; optimizer: Adam; gradients clipped to global norm 1;
training by ``numrnn.train.Trainer`` (shuffled epochs, NaN guards, checkpoint).
Target: test MSE below 1e-3. Writes loss.png, prediction.png (prediction against
the truth on the test part) and model.npz (the checkpoint) to --out.
"""

from __future__ import annotations

import math

import numpy as np

import numrnn as nr
from numrnn import plotting
from numrnn.argtypes import positive_int
from numrnn.checkpoint import load
from numrnn.examples.common import Progress, add_common_arguments, out_dir, print_written, verdict
from numrnn.train import Trainer
from numrnn.which_code import which_code

TARGET_MSE = 1e-3


def add_arguments(p) -> None:
    add_common_arguments(p, steps=300, lr=3e-3, hidden=64)
    p.add_argument("--window", type=positive_int, default=20,
                   help="T, the values the model reads (default 20)")
    p.add_argument("--batch", type=positive_int, default=64, help="N, windows per step (default 64)")


def sine_windows(window: int, samples: int = 2000, dt: float = 0.1):
    """x (M, window) windows of sin(t) and y (M,) the value after each; M = samples - window."""
    s = np.sin(dt * np.arange(samples)).astype(np.float32)
    x = np.lib.stride_tricks.sliding_window_view(s[:-1], window)  # (M, window)
    y = s[window:]  # (M,)
    return np.ascontiguousarray(x), y


def as_sequence(windows):
    """(N, T) windows -> (T, N, 1): time-major, one feature."""
    return np.ascontiguousarray(windows.T[:, :, None])


def run(args) -> int:
    out = out_dir(args, "sine")
    x, y = sine_windows(args.window)
    split = int(0.8 * len(x))
    train_x, train_y, test_x, test_y = x[:split], y[:split], x[split:], y[split:]
    print(f"sine: {len(train_x)} training windows, {len(test_x)} test windows of {args.window} values")

    H = args.hidden_size
    model = nr.Sequential(
        nr.RNN(1, H, backend=args.backend, seed=args.seed),
        nr.LastStep(),  # many-to-one: only the last step's output is used
        nr.Linear(H, 1, seed=args.seed + 1),
    )
    opt = nr.Adam(model, lr=args.lr)
    # one epoch = the training windows in batches of N; the Trainer shuffles their order,
    # clips the gradient norm to 1, stops at the first NaN and writes the checkpoint
    batches = [(as_sequence(train_x[i:i + args.batch]), train_y[i:i + args.batch, None])
               for i in range(0, len(train_x), args.batch)]
    trainer = Trainer(model, opt, nr.mse_loss, clip_norm=1.0, checkpoint_path=out / "model.npz",
                      seed=args.seed)
    with Progress(args.steps, "sine", args.progress) as bar:
        history = trainer.fit(batches, epochs=math.ceil(args.steps / len(batches)), max_steps=args.steps,
                              on_step=lambda _, loss: bar.update(mse=loss))

    print(f"which code ran: {which_code(model)}")
    pred = model(as_sequence(test_x))[:, 0]  # (M_test,) one-step-ahead forecasts
    test_mse = float(np.mean((pred - test_y) ** 2))
    checkpoint = trainer.checkpoint_path  # written by fit(), with the optimizer's state
    reloaded = load(checkpoint)(as_sequence(test_x))[:, 0]
    print(f"checkpoint {checkpoint} reloaded: predictions "
          f"{'identical' if np.array_equal(reloaded, pred) else 'DIFFER'}")
    t_test = 0.1 * (split + args.window + np.arange(len(test_y)))
    print_written(
        plotting.save_loss_curve(history.loss, out / "loss.png", title="sine: training MSE", ylabel="MSE",
                                 reference=TARGET_MSE, reference_label="target 1e-3", logy=True),
        plotting.save_lines({"truth sin(t)": test_y, "prediction": pred}, out / "prediction.png",
                            title=f"sine: one-step forecasts on the test part (MSE {test_mse:.1e})",
                            xlabel="t", x=t_test),
    )
    ok = verdict(test_mse < TARGET_MSE, f"test MSE {test_mse:.2e} (target < {TARGET_MSE:g})")
    return 0 if ok else 1
