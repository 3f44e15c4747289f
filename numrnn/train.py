"""A small training loop: the steps every example repeats, written out once.

One step is the whole of supervised learning with hand-written gradients::

    optimizer.zero_grad()
    pred = model(x)                      # forward, caches what backward needs
    loss, dpred = loss_fn(pred, y)       # the loss and dLoss/dpred
    model.backward(dpred)                # BPTT: adds dLoss/dparam into model.grads
    clip_grad_norm(model, max_norm)      # optional: tame exploding gradients
    optimizer.step()                     # params -= update(grads)

:class:`Trainer` adds what a real run needs around that: shuffled epochs, a history,
callbacks, an optional tqdm progress bar, checkpoints every k steps that can be
resumed to *exactly* the run that was interrupted, and guards that stop training
with :class:`NonFiniteError` at the first NaN or inf, before it reaches the weights
or the checkpoint.

Batches are tuples ``(x, y)`` or ``(x, y, lengths)``; the model must return an
array (wrap a bare RNN in a ``Sequential`` with its head).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from numrnn._checks import check_bool, check_positive_int, check_real
from numrnn.backend import get_array_module
from numrnn.checkpoint import load_checkpoint, rng_states, save, set_rng_states
from numrnn.clip import clip_grad_norm, grad_norm
from numrnn.errors import CheckpointError, UsageTypeError, UsageValueError
from numrnn.functional.losses import mse_loss
from numrnn.nn.module import Module
from numrnn.progress import Progress


class NonFiniteError(FloatingPointError):
    """A loss, gradient or parameter became NaN or inf; training stopped there.

    ``step`` is the step being taken (1-based) and ``tensor`` the name of the first
    bad value (``"loss"``, ``"grad 1.weight_hh_l0"``, ``"param 2.bias"``).
    """

    def __init__(self, step: int, tensor: str, detail: str):
        self.step, self.tensor = step, tensor
        super().__init__(f"step {step}: {tensor} is not finite ({detail}); training stopped")


def check_finite_loss(step: int, loss: float) -> None:
    """NonFiniteError unless ``loss`` is a finite number."""
    if not math.isfinite(loss):
        raise NonFiniteError(step, "loss", f"loss = {loss}")


def check_finite_arrays(step: int, arrays: dict, kind: str) -> None:
    """NonFiniteError naming the first array in ``arrays`` with a NaN or inf."""
    for name, a in arrays.items():
        bad = ~get_array_module(a).isfinite(a)
        if bool(bad.any()):
            detail = f"{int(bad.sum())} of {a.size} values are NaN or inf"
            raise NonFiniteError(step, f"{kind} {name}", detail)


@dataclass
class History:
    """What a run measured: per step (``loss``, ``grad_norm`` before clipping) and per
    epoch (``epoch_loss``, the mean training loss, and ``val_loss`` when validation
    batches are given)."""

    loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    epoch_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)


def _unpack_batch(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        got = type(batch).__name__ + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        raise UsageTypeError(f"Trainer: a batch must be a tuple (x, y) or (x, y, lengths); got {got}")
    x, y = batch[0], batch[1]
    return x, y, (batch[2] if len(batch) == 3 else None)


class Trainer:
    """Runs epochs of ``(x, y[, lengths])`` batches through a model.

    Parameters
    ----------
    model : a numrnn module whose forward returns an array (e.g. a ``Sequential``).
    optimizer : an optimizer over ``model`` (``nr.Adam(model)``).
    loss_fn : ``(pred, y) -> (loss, dpred)``, e.g. ``nr.mse_loss`` or ``nr.cross_entropy``.
    clip_norm : clip the global gradient norm to this value (``None``: no clipping).
    checkpoint_path : where checkpoints go; written every ``checkpoint_every`` steps
        (0: only at the end of :meth:`fit`), atomically.
    seed : seeds the order of the batches (epoch e is shuffled by
        ``default_rng([seed, e])``, so a resumed run sees the same order).
    shuffle : shuffle the batches every epoch.
    progress : show a progress bar per epoch (:class:`numrnn.progress.Progress`: tqdm's
        when tqdm is installed, else a line every tenth of the epoch).
    """

    def __init__(self, model, optimizer, loss_fn=mse_loss, *, clip_norm: float | None = None,
                 checkpoint_path=None, checkpoint_every: int = 0, seed: int = 0, shuffle: bool = True,
                 progress: bool = False):
        if not isinstance(model, Module):
            raise UsageTypeError(f"Trainer: model must be a numrnn Module (e.g. nr.Sequential(...)); got "
                                 f"{type(model).__name__}")
        if not all(callable(getattr(optimizer, m, None)) for m in ("step", "zero_grad")):
            hint = " (pass an optimizer: nr.Adam(model, lr=1e-3))" if isinstance(optimizer, str) else ""
            raise UsageTypeError(f"Trainer: optimizer must be an optimizer with step() and zero_grad(); got "
                                 f"{optimizer!r:.60}{hint}")
        if not callable(loss_fn):
            raise UsageTypeError(f"Trainer: loss_fn must be a function (pred, y) -> (loss, dpred), e.g. "
                                 f"nr.mse_loss; got {loss_fn!r:.60}")
        if clip_norm is not None:
            clip_norm = check_real(clip_norm, "clip_norm", "Trainer", low=0, low_open=True)
        seed = check_positive_int(seed, "seed", "Trainer", minimum=0)
        if checkpoint_path is not None and not isinstance(checkpoint_path, (str, bytes, os.PathLike)):
            raise UsageTypeError(f"Trainer: checkpoint_path must be a path (str or os.PathLike) or None; got "
                                 f"{type(checkpoint_path).__name__}")
        checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every", "Trainer", minimum=0)
        if checkpoint_every and checkpoint_path is None:
            raise UsageValueError("Trainer: checkpoint_every needs a checkpoint_path")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.clip_norm = clip_norm
        self.checkpoint_path = None if checkpoint_path is None else os.fspath(checkpoint_path)
        self.checkpoint_every = checkpoint_every
        self.seed = seed
        self.shuffle = check_bool(shuffle, "shuffle", "Trainer")
        self.progress = check_bool(progress, "progress", "Trainer")
        self.history = History()
        self.step = 0  # optimizer updates done
        self.epoch = 0  # the epoch in progress (0-based)
        self.batch_in_epoch = 0  # batches of that epoch already done
        self._epoch_losses: list = []  # losses of the epoch in progress
        self.stop = False  # a callback sets it to end fit() after the current step

    # -- one step ------------------------------------------------------------------------------
    def _forward(self, x, lengths):
        pred = self.model(x) if lengths is None else self.model(x, lengths=lengths)
        if isinstance(pred, tuple):
            raise UsageTypeError("Trainer: the model returned a tuple (a bare RNN returns (out, h_n)); "
                                 "wrap it with its head in nr.Sequential(...)")
        return pred

    def train_step(self, batch) -> tuple:
        """One update on ``batch``; returns ``(loss, grad_norm before clipping)``."""
        x, y, lengths = _unpack_batch(batch)
        return self.update(lambda: self._forward(x, lengths), y)

    def update(self, forward, y, loss_fn=None) -> tuple:
        """The one training step every loop of numrnn takes (``fit`` and ``train_tbptt``).

        ``forward()`` runs the model and returns its prediction; ``loss_fn`` (default
        :attr:`loss_fn`) turns ``(prediction, y)`` into ``(loss, dprediction)``. The
        loss, every gradient and every parameter after the update are checked for NaN
        and inf (:class:`NonFiniteError`). Returns ``(loss, grad_norm before clipping)``.
        """
        loss_fn = self.loss_fn if loss_fn is None else loss_fn
        step = self.step + 1
        self.model.train()
        self.optimizer.zero_grad()
        pred = forward()
        loss, dpred = loss_fn(pred, y)
        check_finite_loss(step, loss)
        self.model.backward(dpred)
        check_finite_arrays(step, self.model.grads, "grad")
        if self.clip_norm is not None:
            norm = clip_grad_norm(self.model, self.clip_norm)
        else:
            norm = grad_norm(self.model)
        self.optimizer.step()
        check_finite_arrays(step, self.model.params, "param")
        self.step = step
        return float(loss), float(norm)

    def evaluate(self, batches) -> float:
        """Mean loss over ``batches`` in eval mode (no dropout, no update)."""
        self.model.eval()
        losses = []
        for batch in batches:
            x, y, lengths = _unpack_batch(batch)
            losses.append(self.loss_fn(self._forward(x, lengths), y)[0])
        self.model.train()
        return float(np.mean(losses)) if losses else math.nan

    # -- epochs ----------------------------------------------------------------------------------
    def _order(self, n: int, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def fit(self, batches, epochs: int = 1, val=None, max_steps: int | None = None,
            on_step=None, on_epoch=None) -> History:
        """Train until ``epochs`` epochs are done (counting those done before a resume).

        Parameters
        ----------
        batches : a sequence of batches, or a callable ``epoch -> sequence`` (it must
            give the same batches for the same epoch, for resuming).
        epochs : the total number of epochs.
        val : optional validation batches, evaluated at the end of every epoch.
        max_steps : stop after this many updates in total (a checkpoint is written).
        on_step : ``on_step(trainer, loss)`` after every update.
        on_epoch : ``on_epoch(trainer, epoch_loss, val_loss)`` after every epoch.

        Returns
        -------
        The :class:`History` (also ``trainer.history``).
        """
        epochs = check_positive_int(epochs, "epochs", "Trainer.fit", minimum=0)
        if max_steps is not None:
            max_steps = check_positive_int(max_steps, "max_steps", "Trainer.fit", minimum=0)
        for name, fn in (("on_step", on_step), ("on_epoch", on_epoch)):
            if fn is not None and not callable(fn):
                raise UsageTypeError(f"Trainer.fit: {name} must be a function or None; got {fn!r:.60}")
        self.stop = False
        while self.epoch < epochs and not self.stop:
            data = batches(self.epoch) if callable(batches) else batches
            if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
                raise UsageTypeError("Trainer.fit: batches must be a sequence (list) of (x, y[, lengths]) "
                                     "tuples, or a function epoch -> such a sequence; got "
                                     f"{type(data).__name__}")
            n = len(data)
            if n == 0:
                raise UsageValueError("Trainer.fit: no batches to train on")
            order = self._order(n, self.epoch)
            bar = Progress(n, f"epoch {self.epoch + 1}/{epochs}", self.progress, lines=self.progress,
                           initial=self.batch_in_epoch, leave=False)
            try:
                while self.batch_in_epoch < n:
                    if max_steps is not None and self.step >= max_steps:
                        self.stop = True
                        break
                    loss, norm = self.train_step(data[order[self.batch_in_epoch]])
                    self.batch_in_epoch += 1
                    self._epoch_losses.append(loss)
                    self.history.loss.append(loss)
                    self.history.grad_norm.append(norm)
                    bar.update(loss=loss)
                    if on_step is not None:
                        on_step(self, loss)
                    if self.checkpoint_every and self.step % self.checkpoint_every == 0:
                        self.save_checkpoint()
                    if self.stop:
                        break
            finally:
                bar.close()
            if self.batch_in_epoch < n:
                break  # stopped inside the epoch
            epoch_loss = float(np.mean(self._epoch_losses))
            val_loss = self.evaluate(val) if val is not None else None
            self.history.epoch_loss.append(epoch_loss)
            if val_loss is not None:
                self.history.val_loss.append(val_loss)
            self.epoch, self.batch_in_epoch, self._epoch_losses = self.epoch + 1, 0, []
            if on_epoch is not None:
                on_epoch(self, epoch_loss, val_loss)
        if self.checkpoint_path is not None:
            self.save_checkpoint()
        return self.history

    # -- checkpoints -------------------------------------------------------------------------------
    def training_state(self) -> dict:
        """Everything besides the weights that a resumed run needs to continue exactly."""
        return {"step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                "epoch_losses": list(self._epoch_losses), "seed": self.seed,
                "history": asdict(self.history), "rng": rng_states(self.model)}

    def save_checkpoint(self, path=None) -> str:
        """Save the model, the optimizer and :meth:`training_state` (atomically)."""
        path = path or self.checkpoint_path
        if path is None:
            raise UsageValueError("Trainer.save_checkpoint: no path given and no checkpoint_path set")
        return save(self.model, path, optimizer=self.optimizer, trainer=self.training_state())

    def resume(self, path=None) -> Trainer:
        """Load a checkpoint written by :meth:`save_checkpoint` into this trainer's model
        and optimizer and continue from its step; returns ``self``.

        A file without a training state, or with a damaged one, is a
        :class:`~numrnn.errors.CheckpointError` naming the file and what is wrong.
        """
        path = path or self.checkpoint_path
        ck = load_checkpoint(path, model=self.model)
        if "trainer" not in ck.extra or "optimizer" not in ck.extra:
            raise CheckpointError(f"Trainer.resume: {path} holds a model but no training state "
                                  "(write it with Trainer.save_checkpoint)")
        try:
            st = ck.extra["trainer"]
            counters = [st[k] for k in ("step", "epoch", "batch_in_epoch")]
            if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counters):
                raise UsageValueError(f"step, epoch and batch_in_epoch must be integers >= 0; got {counters}")
            epoch_losses = [float(v) for v in st["epoch_losses"]]
            history = History(**st["history"])
            seed = st["seed"]
            self.optimizer.load_state_dict(ck.extra["optimizer"])
            set_rng_states(self.model, st["rng"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"Trainer.resume: {path} holds a damaged training state: "
                                  f"{type(exc).__name__}: {exc}") from exc
        self.step, self.epoch, self.batch_in_epoch = counters
        self._epoch_losses = epoch_losses
        self.seed = seed
        self.history = history
        return self


def fit(model, optimizer, batches, loss_fn=mse_loss, epochs: int = 1, val=None, **trainer_kwargs) -> History:
    """``Trainer(model, optimizer, loss_fn, **trainer_kwargs).fit(batches, epochs, val)``."""
    return Trainer(model, optimizer, loss_fn, **trainer_kwargs).fit(batches, epochs, val)


__all__ = ["History", "NonFiniteError", "Trainer", "check_finite_arrays", "check_finite_loss", "fit"]
