"""Checkpoints that survive a kill at any moment, and stopping rules.

Keras' `BackupAndRestore` (3.15) writes `latest.weights.h5` in place and
then `training_metadata.json`: a kill during the first write leaves a
truncated HDF5 file and no older one (`double_checkpoint` copies the old
file aside, but that copy is itself a plain, interruptible write), and a
kill between the two leaves weights and epoch out of step. `Checkpoint`
does what that callback does (restore at `on_train_begin`, save every
epoch or every N steps), on public Keras API only, and writes the files
so that a kill at any moment loses nothing:

1. the state goes to `step_{step:09d}.weights.h5` through a temporary file
   and `os.replace`;
2. `checkpoint.json`, which names that file, is replaced the same way: this
   rename is the commit;
3. files older than the `keep` newest are deleted only after the commit.

Before the commit the previous checkpoint is untouched and is the one that
loads. The weights file holds the whole trainer: both networks, every
optimizer's slots and iteration count (the step), and the state of every
`SeedGenerator` (the trainer's z, and layers' noise, which Keras itself
does not save), so a resumed run draws the random numbers the uninterrupted
run would have drawn.
"""

import contextlib
import json
import os
import shutil

import h5py
import keras
import numpy as np

from kgan._checks import positive_int
from kgan._files import as_write_error, atomic_path, reserve_space
from kgan.callbacks._common import training_step
from kgan.callbacks.checkpoint_files import (
    METADATA,
    CheckpointFiles,
)
from kgan.distribution import (
    check_same_everywhere,
    is_chief,
    process_local,
)

# Keras saves no layer's random-number state (`SeedGenerator`s of dropout,
# noise injection, ...); the checkpoint keeps them here, in the same file.
RNG_STATES = "kgan_rng_states"


class CheckpointError(OSError):
    """No checkpoint in the folder loads into the model (each was unreadable
    or was written by a model of another shape)."""


class Checkpoint(CheckpointFiles, keras.callbacks.Callback):
    """`BackupAndRestore` with atomic writes and step-exact resume.

    At `on_train_begin` the newest readable checkpoint in `backup_dir` is
    loaded, and `fit` stops once the trainer has done `epochs *
    steps_per_epoch` steps in all, counting those before the restore: the
    same `fit` call run again continues at the saved step and ends where
    the uninterrupted run would have. (Keras' epoch counter starts again at
    `initial_epoch`; pass `initial_epoch=step // steps_per_epoch` for epoch
    numbers that match, as the kgan scripts do.) A checkpoint
    whose losses or weights are NaN or infinite is not written: the last
    good one stays. Unlike Keras' callback, the checkpoint is kept when
    training ends (`delete_checkpoint=False`), so a finished run can be
    continued with more steps. In a multi-process run every process
    restores (from the same, shared folder) and only process 0 writes.

    Args:
        backup_dir: folder of the checkpoint; used by nothing else.
        save_freq: `"epoch"`, or an integer number of batches.
        keep: checkpoints kept on disk (the newest first); the older ones
            are tried in turn if the newest cannot be read.
        delete_checkpoint: delete `backup_dir` when training ends.
        verbose: print a line when a checkpoint is restored or skipped.

    Example:

    ```python
    checkpoint = kgan.callbacks.Checkpoint("run/checkpoint")
    gan.fit(dataset, epochs=50, steps_per_epoch=100, callbacks=[checkpoint])
    # killed? the same call continues at the last saved step.
    ```
    """

    def __init__(
        self,
        backup_dir,
        save_freq="epoch",
        keep=2,
        delete_checkpoint=False,
        verbose=True,
    ):
        super().__init__()
        if save_freq != "epoch":
            save_freq = positive_int("save_freq", save_freq)
        self.backup_dir = backup_dir
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self.keep = positive_int("keep", keep)
        self.verbose = verbose
        self.metadata_path = os.path.join(backup_dir, METADATA)
        self.restored_step = None
        self.ready = False
        self._committed = None  # the file this process saved or restored
        self._said_rebuilt = False
        # The step `load(model)` restored before `fit`; that `fit` keeps
        # the state instead of loading again.
        self.loaded_step = None

    # -- restore ------------------------------------------------------------
    def on_train_begin(self, logs=None):
        # Until the restore is complete the model may hold half a state,
        # which `save` must not commit.
        self.ready = False
        self._epoch = 0
        if self.loaded_step is None:
            self.load()
        self.loaded_step = None
        # A process that found another checkpoint (or none) would train
        # out of step with the others.
        check_same_everywhere(
            training_step(self.model), "the step the run starts at"
        )
        self.ready = True

    def load(self, model=None):
        """Loads the newest readable checkpoint into the model; returns its
        step, or None when the folder holds none.

        `fit` calls it at `on_train_begin`; call it before `fit` (with the
        trainer as `model`) to know the step first, e.g. to start the data
        there: that `fit` then keeps the state loaded here. The step is
        that of the checkpoint that loaded, which is older than the newest
        when the newest cannot be read.

        Raises:
            CheckpointError: checkpoints exist but none fits the model.
        """
        if model is not None:
            self.set_model(model)
        step = self._load()
        if model is not None:
            self.loaded_step = step or 0
        return step

    def _load(self):
        metadata = self.read_metadata()
        if metadata is None:
            return None
        names = [metadata["weights"]] + list(metadata.get("previous", []))
        errors = []
        for name in names:
            path = os.path.join(self.backup_dir, name)
            try:
                self.restore(path)
            except (OSError, ValueError, KeyError) as error:
                first_line = str(error).strip().splitlines()[0]
                errors.append(f"{path}: {type(error).__name__}: {first_line}")
                continue
            if self.verbose:
                print(f"kgan: resumed from {path} at step {self.restored_step}")
            return self.restored_step
        raise CheckpointError(
            f"No checkpoint in {self.backup_dir} could be loaded into this "
            "model: " + "; ".join(errors)
        )

    def restore(self, path):
        """Loads the weights file at `path`; returns the step it holds."""
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            # The slots must exist to receive the saved values.
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(path)
        _load_rng_states(self.model, path)
        self._committed = os.path.basename(path)
        self.restored_step = training_step(self.model)
        return self.restored_step

    # -- save ---------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch + 1
        if self.save_freq == "epoch" and self._finite(logs):
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        step = training_step(self.model)
        if (
            self.save_freq != "epoch"
            and step % self.save_freq == 0
            and self._finite(logs)
        ):
            self._save_model()
        params = self.params or {}
        if params.get("epochs") and params.get("steps"):
            # The steps of the whole `fit` call, those restored included.
            if step >= params["epochs"] * params["steps"]:
                self.model.stop_training = True

    def save(self):
        """Checkpoints the current state now (unless it holds NaNs);
        returns the path of the newest checkpoint, or None."""
        if self._finite(None):
            self._save_model()
        latest = self.latest()
        return None if latest is None else latest[0]

    def _finite(self, logs):
        values = [v for v in (logs or {}).values() if np.isscalar(v)]
        if not all(np.isfinite(float(v)) for v in values):
            return False  # a NaN loss: `StopOnNaN` says so, once
        finite = all(
            np.isfinite(keras.ops.convert_to_numpy(v)).all()
            for v in self.model.trainable_variables
        )
        if not finite and self.verbose:
            print(
                "kgan: not checkpointing a state with NaN or infinite "
                f"values; the last good checkpoint is {self.last_good()}."
            )
        return finite

    def _save_model(self):
        if not is_chief():
            return  # every process holds the same state; one writes it
        step = training_step(self.model)
        name = f"step_{step:09d}.weights.h5"
        if name == self._committed:
            return  # this very state is on disk already
        # Not the metadata's word: a file of this step that failed to load
        # (and sent the restore to an older one) must be written anew.
        metadata = self.read_metadata()
        path = os.path.join(self.backup_dir, name)
        reserve_space(path, self._expected_size(metadata))
        with atomic_path(path) as tmp, process_local(), _hdf5_write(path):
            self.model.save_weights(tmp)
            _save_rng_states(self.model, tmp)
        older = []
        if metadata:
            older = [metadata["weights"], *metadata.get("previous", [])]
        older = [n for n in older if n != name]
        new = {
            "step": step,
            "epoch": self._epoch,
            "weights": name,
            "previous": older[: self.keep - 1],
        }
        with atomic_path(self.metadata_path) as tmp:
            with open(tmp, "w") as f:
                json.dump(new, f, indent=1)
        self._committed = name
        self._prune({name, *new["previous"]})

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and is_chief():
            shutil.rmtree(self.backup_dir, ignore_errors=True)


@contextlib.contextmanager
def _hdf5_write(path):
    """Marks an error inside as HDF5's (`WriteError.end_at_once`).

    `reserve_space` makes this rare: only a disk that fills between that
    check and the write gets here, and HDF5 may then crash at once (a
    segmentation fault while closing the file, h5py 3.x), or leave a
    state that crashes the interpreter at exit, which `end_at_once` avoids.
    """
    try:
        yield
    except OSError as error:
        failure = as_write_error(error, path)
        failure.end_at_once = True
        raise failure from None


def _rng_state_variables(model):
    return [
        v
        for v in model.non_trainable_variables
        if v.path.endswith("seed_generator_state")
    ]


def _save_rng_states(model, path):
    states = [
        keras.ops.convert_to_numpy(v) for v in _rng_state_variables(model)
    ]
    if states:
        with h5py.File(path, "a") as f:
            f.create_dataset(RNG_STATES, data=np.stack(states))


def _load_rng_states(model, path):
    variables = _rng_state_variables(model)
    with h5py.File(path, "r") as f:
        states = f[RNG_STATES][()] if RNG_STATES in f else None
    if states is not None and len(states) == len(variables):
        for variable, state in zip(variables, states):
            variable.assign(state)


class StopAtStep(keras.callbacks.Callback):
    """Ends `fit` once the trainer has done `steps` optimizer steps in all.

    With a resumed run the count includes the steps done before, so
    `epochs * steps_per_epoch` may be an upper bound: training stops at the
    exact step. A `fit` that starts at or past `steps` raises
    `ValueError` before its first step (Keras always takes one batch once
    `fit` has begun): check `training_step` first, as the scripts do.

    Args:
        steps: total optimizer steps.
    """

    def __init__(self, steps):
        super().__init__()
        self.steps = positive_int("steps", steps)

    def on_train_begin(self, logs=None):
        step = training_step(self.model)
        if step >= self.steps:
            raise ValueError(
                f"The trainer is at step {step}, at or past steps="
                f"{self.steps}: nothing to train. Raise `steps`, or skip "
                "`fit`."
            )

    def on_train_batch_end(self, batch, logs=None):
        if training_step(self.model) >= self.steps:
            self.model.stop_training = True
