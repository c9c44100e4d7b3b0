"""A run of a `RunConfig`: its callbacks, training from the checkpoint to
`config.steps`, the saved generator and its report.

Everything raises (`RunError` and its kinds, `ConfigError`); deciding how
a process ends is the caller's business (the scripts turn these into one
line and an exit code).
"""

import contextlib
import importlib.util
import json
import os
import re
import signal
import sys

import keras
import numpy as np

from kgan import distribution
from kgan._files import atomic_path
from kgan.recipes.errors import (
    ConfigError,
    Diverged,
    Interrupted,
    PeerLost,
    RunError,
)
from kgan.recipes.folder import (
    HISTORY_FILE,
    open_run,
    trim_history,
    write_failed,
    writes_reported,
)
from kgan.recipes.messages import say
from kgan.recipes.resume import config_path, saved_config
from kgan.training.keras_contracts import network_optimizers


def run_callbacks(
    config, gan, real_images=None, sample_rows=8, learning_rates=None
):
    """The callbacks of a run; everything goes under `config.out`.

    `samples/` gets sample grids with a fixed z (and, for O-GAN given
    `real_images`, reconstruction grids) and slerp strips every
    `sample_every` steps, `history.csv` and `loss.png` the metrics with
    their step, `checkpoint/` the resumable state every `checkpoint_every`
    steps (one Keras epoch), and with `config.tensorboard`, `tensorboard/`
    the metrics and the grids. A checkpoint left by an earlier run is used
    only with `config.resume`: without it `RunExists` is raised rather than
    overwrite the run. `learning_rates` `(d_lr, g_lr)` (None: keep the
    checkpoint's) replace a resumed checkpoint's rates. In a multi-process
    run every process gets the same callbacks (the pictures are drawn
    collectively); only process 0 writes.
    """
    from kgan import callbacks as kc

    folder = open_run(config)  # checked and locked, if not yet
    chief = distribution.is_chief()
    checkpoint = kc.Checkpoint(folder.checkpoint_dir())
    samples = os.path.join(config.out, "samples")
    history = os.path.join(config.out, HISTORY_FILE)
    board = tensorboard_dir(config)
    callbacks = [
        kc.LogStep(),  # before CSVLogger, which then writes the step
        checkpoint,  # restores before StopAtStep counts the steps
        # A history row is written once its checkpoint has committed.
        *([keras.callbacks.CSVLogger(history, append=config.resume)] * chief),
        kc.LossPlot(os.path.join(config.out, "loss.png"), csv_path=history),
    ]
    if learning_rates is not None and any(
        r is not None for r in learning_rates
    ):
        callbacks.append(LearningRates(*learning_rates))  # after the restore
    if board and chief:
        callbacks.append(kc.ScalarSummaries(board, config.sample_every))
    every, seed, classes = config.sample_every, config.seed, config.num_classes
    if config.progressive:  # the level follows the step, resumes too
        callbacks.append(kc.ProgressiveSchedule(*config.progressive_schedule))
    callbacks += [
        kc.StopAtStep(config.steps),
        # Quiet: `save_generator` raises `Diverged` with its message.
        kc.StopOnNaN(checkpoint, verbose=False),
        kc.SampleGrid(
            samples, every, sample_rows, seed, classes, tensorboard_dir=board
        ),
        kc.InterpolationStrip(
            samples,
            every,
            seed=seed + 1,
            num_classes=classes,
            tensorboard_dir=board,
        ),  # fmt: skip
    ]
    if real_images is not None and hasattr(gan, "reconstruct"):
        callbacks.append(
            kc.ReconstructionGrid(
                real_images, samples, every, tensorboard_dir=board
            )
        )
    return callbacks


def tensorboard_dir(config):
    """`out`/tensorboard with `config.tensorboard`, else None."""
    if not config.tensorboard:
        return None
    if importlib.util.find_spec("tensorboard") is None:
        raise RunError(
            "`tensorboard` needs the TensorBoard package: pip install "
            "tensorboard (or kgan[tensorboard])."
        )
    return os.path.join(config.out, "tensorboard")


def restore(config, gan, callbacks):
    """Loads the run's checkpoint into `gan` (with `config.resume`) and
    returns its step (0 without one): start the data at that batch, and a
    resumed run sees the batches an uninterrupted one would.

    The step is that of the checkpoint that loaded, an older one when the
    newest cannot be read; the history rows past it are dropped, so each
    step is logged once. `config.json` is written only now, once the
    checkpoint has loaded. `train` calls this when the caller did not.

    Raises:
        RunError: checkpoints exist but none loads into `gan` (the message
            names each file and why).
    """
    from kgan.callbacks import CheckpointError

    checkpoint = _checkpoint(callbacks)
    if checkpoint.loaded_step is not None:
        return checkpoint.loaded_step
    with writes_reported(config.out):
        step = 0
        if config.resume:
            try:
                step = checkpoint.load(gan) or 0
            except CheckpointError as error:
                raise RunError(
                    f"{error}. Resume with the settings of the run that "
                    f"wrote it ({config_path(config.out)} holds them when "
                    "it is there)."
                ) from None
            if checkpoint.restored_step is None:
                say(f"kgan: no checkpoint in {checkpoint.backup_dir}; "
                    "from step 0")  # fmt: skip
            trim_history(config.out, step)
        checkpoint.loaded_step = step
        if distribution.is_chief():
            _write_config(config)
    return step


def _write_config(config):
    """`out`/config.json, unless it holds these settings already (where the
    folder is and whether this command resumed do not count)."""
    path = config_path(config.out)
    with contextlib.suppress(ConfigError):
        saved = saved_config(config.out)
        if (
            saved is not None
            and saved.replace(out=config.out, resume=config.resume) == config
        ):
            return
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(config.to_json())


def _checkpoint(callbacks):
    from kgan.callbacks import Checkpoint

    return next(c for c in callbacks if isinstance(c, Checkpoint))


class LearningRates(keras.callbacks.Callback):
    """Sets the learning rates after a resume: a checkpoint restores the
    optimizers' rates with their state, and rates the user asked for win.

    Args:
        d_lr: D's rate, or None to keep the checkpoint's.
        g_lr: G's rate, or None.
    """

    def __init__(self, d_lr, g_lr):
        super().__init__()
        self.rates = (d_lr, g_lr)

    def on_train_begin(self, logs=None):
        parts = network_optimizers(self.model.optimizer)
        names = ("D", "G")
        if parts[0] is parts[1]:  # one optimizer trains both
            parts, names = parts[:1], ("D and G",)
        changed = []
        for name, optimizer, lr in zip(names, parts, self.rates):
            old = float(optimizer.learning_rate)
            if lr is not None and lr != old:
                optimizer.learning_rate = lr
                changed.append(f"{name} {lr:g} (the checkpoint had {old:g})")
        if changed:
            say(
                f"kgan: learning rate from the command line: "
                f"{', '.join(dict.fromkeys(changed))}; the rest of the state "
                "from the checkpoint"
            )


def train(config, gan, dataset, callbacks):
    """Trains from the checkpoint's step (with `resume`) to `steps`.

    Returns True when the generator is to be saved: it trained now, or
    the run had reached `steps` but its `generator.keras` was never
    written (a failed write): the weights (and their EMA, as `fit` would
    leave them) are then the checkpoint's. Returns False, changing
    nothing, for a finished run.

    Keras' epochs are `checkpoint_every` steps; `initial_epoch` keeps their
    numbers those of an uninterrupted run. Start `dataset` at the batch
    `restore` returns (call it first), or at 0 for a new run.
    """
    start = restore(config, gan, callbacks)
    if start >= config.steps:
        if not os.path.exists(generator_path(config)):
            say(
                f"kgan: the checkpoint is at step {start}, --steps is "
                f"{config.steps}: nothing to train; writing the "
                "generator.keras the run did not write"
            )
            gan.finalize_ema_weights()
            return True
        say(
            f"kgan: the checkpoint is at step {start}, --steps is "
            f"{config.steps}: nothing to train; raise --steps to go on "
            "(generator.keras and the pictures are unchanged)."
        )
        return False
    with checkpoint_on_interrupt(callbacks, config.out):
        gan.fit(
            dataset,
            epochs=config.epochs,
            initial_epoch=start // config.checkpoint_every,
            steps_per_epoch=config.checkpoint_every,
            callbacks=callbacks,
            verbose=1 if os.isatty(1) else 2,
        )
    return True


@contextlib.contextmanager
def checkpoint_on_interrupt(callbacks, out=None):
    """Ctrl-C or SIGTERM inside: checkpoint the current step and raise
    `Interrupted`.

    Python runs signal handlers between bytecodes, so a compiled training
    step is never cut in half: the state saved is that after a whole step.
    A SIGKILL cannot be caught; a resume then starts at the last periodic
    checkpoint. In a multi-process run, a step that fails (a peer died)
    raises `PeerLost`. A write that fails (disk full, ...) raises
    `WriteFailed` naming the checkpoint to resume from (`out`: the run
    folder; default the checkpoint's parent).
    """
    from kgan.callbacks import CheckpointError

    checkpoint = _checkpoint(callbacks)
    out = out or os.path.dirname(os.path.abspath(checkpoint.backup_dir))

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave SIGTERM alone
        previous = None
    try:
        yield
    except CheckpointError as error:
        raise RunError(
            f"{error}. Resume with the flags of the run that wrote it."
        ) from None
    except KeyboardInterrupt:
        if not checkpoint.ready:
            raise Interrupted(
                "interrupted before training started; nothing to save."
            ) from None
        with writes_reported(out):
            path = checkpoint.save()
        raise Interrupted(
            f"interrupted; the state is saved in {path}. Run the same "
            "command with --resume to continue from it."
        ) from None
    except (RunError, distribution.DistributionError):
        raise
    except BrokenPipeError:
        # stdout was closed (`| head`): not the run folder. Save and stop as
        # an interruption; stdout goes to /dev/null so exiting cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        with writes_reported(out):
            path = checkpoint.save() if checkpoint.ready else None
        raise Interrupted(
            "the output pipe closed; "
            + (
                f"the state is saved in {path}. Run the same command with "
                "--resume to continue from it."
                if path
                else "nothing to save."
            )
        ) from None
    except OSError as error:
        raise write_failed(error, out) from None
    except Exception as error:
        if distribution.process_count() == 1:
            raise
        raise PeerLost(peer_lost_message(error, checkpoint)) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def peer_lost_message(error, checkpoint):
    """One line for a process whose collective step failed: when one
    process dies, the others' next collective fails (gloo: the connection
    closed)."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    first = re.sub(r"(Error dispatching computation: )+", "", first)
    latest = checkpoint.describe()
    return (
        f"process {distribution.process_index()} of "
        f"{distribution.process_count()}: training stopped ({first[:160]}); "
        "another process probably died or was stopped (see its log). "
        + (
            f"Restart every process with --resume to continue from {latest}."
            if latest
            else "No checkpoint was written yet: restart the run."
        )
    )


def save_generator(config, generator, callbacks):
    """Writes `generator.keras` (atomically) and returns its path; raises
    `Diverged` after a NaN stop. In a multi-process run, process 0 writes
    it."""
    from kgan.callbacks import StopOnNaN

    for callback in callbacks:
        message = getattr(callback, "nan_message", None)
        if isinstance(callback, StopOnNaN) and message:
            if callback.checkpoint and callback.checkpoint.latest():
                advice = (
                    "Continue from it with `resume` and a lower `lr` (the "
                    "flag replaces the checkpoint's learning rate)."
                )
            else:
                advice = "Start again with a lower `lr` and another `out`."
            raise Diverged(
                f"{message} No generator.keras was written. {advice}"
            )
    path = generator_path(config)
    if distribution.is_chief():
        with writes_reported(config.out), atomic_path(path) as tmp:
            with distribution.process_local():
                generator.save(tmp)
    say(f"saved {path}; pictures in {os.path.join(config.out, 'samples')}")
    return path


def generator_path(config):
    return os.path.join(config.out, "generator.keras")


def generator_to_evaluate(generator, path):
    """The generator for the final report, or None in the processes that
    do not write it.

    After a multi-process run the trained model's weights span every
    process, and process 0 alone cannot run it: it reloads the file it
    saved instead, onto its own devices. Without `generator` (a finished
    run whose report is missing) the file at `path` is loaded too.
    """
    if generator is not None and distribution.process_count() == 1:
        return generator
    if not distribution.is_chief():
        return None
    return keras.models.load_model(path)


def mnist_report(config, generator, real_images, n=2500, step=None):
    """MNIST-FID and class coverage of `generator`, written to
    `out`/metrics.json (and TensorBoard at `step` with
    `config.tensorboard`).

    The fakes are compared with `n` real digits (FID grows as samples
    shrink, so the real-vs-real reference uses two halves of the same size).
    """
    from kgan import metrics, sampling
    from kgan.callbacks import write_scalars

    classifier = metrics.mnist_classifier()
    classes = config.num_classes
    labels = None if classes is None else np.arange(n) % classes
    fakes = sampling.sample(
        generator, n, labels=labels, truncation=config.truncation,
        seed=config.seed,
    )  # fmt: skip
    order = np.random.default_rng(config.seed).permutation(len(real_images))
    coverage = metrics.class_coverage(fakes, classifier)
    report = {
        "mnist_fid": float(
            metrics.mnist_fid(fakes, real_images[order[:n]], classifier)
        ),
        "real_vs_real_mnist_fid": float(
            metrics.real_vs_real_mnist_fid(classifier, real_images)
        ),
        "classes_covered": int(coverage["covered"]),
        "class_shares": [float(x) for x in coverage["shares"]],
        "normalized_entropy": float(coverage["normalized_entropy"]),
        "classifier_accuracy": float(classifier.accuracy),
        "samples": n,
        "truncation": config.truncation,
    }
    if classes is not None:
        predicted = classifier.predict_classes(fakes)
        report["label_accuracy"] = float(np.mean(predicted == labels))
    path = os.path.join(config.out, "metrics.json")
    with writes_reported(config.out):
        with atomic_path(path) as tmp, open(tmp, "w") as f:
            json.dump(report, f, indent=2)
        board = tensorboard_dir(config)
        if board:
            scalars = ("mnist_fid", "classes_covered", "normalized_entropy")
            write_scalars(
                board,
                {f"final/{k}": report[k] for k in scalars},
                config.steps if step is None else step,
            )
    say(
        f"MNIST-FID {report['mnist_fid']:.2f} (real vs real "
        f"{report['real_vs_real_mnist_fid']:.2f}), "
        f"{report['classes_covered']}/10 classes; {path}"
    )
    return report
