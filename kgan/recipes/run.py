"""A run of a `RunConfig`: its callbacks, training from the checkpoint to
`config.steps`, the saved generator and its report.

Everything raises (`RunError` and its kinds, `ConfigError`,
`kgan.callbacks.CheckpointError`); deciding how a process ends is the
caller's business (the scripts turn these into one line and an exit
code).
"""

import contextlib
import importlib.util
import json
import os
import re
import signal

import keras
import numpy as np

from kgan import distribution
from kgan.recipes.messages import say
from kgan.training.optimizers import network_optimizers


class RunError(Exception):
    """A run that cannot go on; the message says what to do."""


class RunExists(RunError):
    """`out` holds an earlier run's checkpoint and `resume` is off."""


class Interrupted(RunError):
    """Ctrl-C or SIGTERM: the state at the current step was saved."""

    exit_code = 130


class PeerLost(RunError):
    """Another process of a multi-process run died; this one must end at
    once (a normal exit waits in JAX's shutdown barrier for minutes)."""

    exit_code = 1
    end_at_once = True


class Diverged(RunError):
    """Training hit a NaN; no generator was written."""


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

    chief = distribution.is_chief()
    if chief:
        os.makedirs(config.out, exist_ok=True)
    checkpoint = kc.Checkpoint(os.path.join(config.out, "checkpoint"))
    latest = checkpoint.describe()
    if latest and not config.resume:
        raise RunExists(
            f"{config.out} holds the checkpoint {latest} of an earlier run: "
            "add --resume to continue it, or choose another --out."
        )
    if config.resume and not latest:
        say(f"kgan: no checkpoint in {checkpoint.backup_dir}; from step 0")
    samples = os.path.join(config.out, "samples")
    history = os.path.join(config.out, "history.csv")
    board = tensorboard_dir(config)
    callbacks = [
        kc.LogStep(),  # before CSVLogger, which then writes the step
        *([keras.callbacks.CSVLogger(history, append=config.resume)] * chief),
        kc.LossPlot(os.path.join(config.out, "loss.png"), csv_path=history),
        checkpoint,  # restores before StopAtStep counts the steps
    ]
    if learning_rates is not None and any(
        r is not None for r in learning_rates
    ):
        callbacks.append(LearningRates(*learning_rates))  # after the restore
    if config.resume:
        callbacks.append(DataPosition(start_step(config)))
    if board and chief:
        callbacks.append(kc.ScalarSummaries(board, config.sample_every))
    every, seed, classes = config.sample_every, config.seed, config.num_classes
    if config.progressive:  # the level follows the step, resumes too
        callbacks.append(kc.ProgressiveSchedule(*config.progressive_schedule))
    callbacks += [
        kc.StopAtStep(config.steps),
        kc.TerminateOnNaN(checkpoint),
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


def start_step(config):
    """The step a resumed run continues from (its committed checkpoint's),
    else 0: the data pipeline starts at this batch, so a resumed run sees
    the batches an uninterrupted one would."""
    from kgan.callbacks import Checkpoint

    if not config.resume:
        return 0
    # Quiet: the run's own Checkpoint says what it finds, once.
    folder = os.path.join(config.out, "checkpoint")
    latest = Checkpoint(folder, verbose=False).latest()
    return 0 if latest is None else latest[1]


class DataPosition(keras.callbacks.Callback):
    """Warns when the restored step is not the one the data starts at
    (the newest checkpoint could not be read and an older one loaded)."""

    def __init__(self, start):
        super().__init__()
        self.start = start

    def on_train_begin(self, logs=None):
        from kgan.callbacks._common import training_step

        step = training_step(self.model)
        if step != self.start:
            say(
                f"kgan: warning: the weights resume at step {step} but the "
                f"data at batch {self.start} (the newest checkpoint did not "
                "load): the batches differ from an uninterrupted run's"
            )


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
    """Trains from the checkpoint's step (with `resume`) to `steps`;
    returns False, training nothing, when the run is there already.

    Keras' epochs are `checkpoint_every` steps; `initial_epoch` keeps their
    numbers those of an uninterrupted run.
    """
    start = start_step(config)
    if start >= config.steps:
        say(
            f"kgan: the checkpoint is at step {start}, --steps is "
            f"{config.steps}: nothing to train; raise --steps to go on "
            "(generator.keras and the pictures are unchanged)."
        )
        return False
    if distribution.is_chief():
        os.makedirs(config.out, exist_ok=True)
        with open(os.path.join(config.out, "config.json"), "w") as f:
            f.write(config.to_json())
    with checkpoint_on_interrupt(callbacks):
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
def checkpoint_on_interrupt(callbacks):
    """Ctrl-C or SIGTERM inside: checkpoint the current step and raise
    `Interrupted`.

    Python runs signal handlers between bytecodes, so a compiled training
    step is never cut in half: the state saved is that after a whole step.
    A SIGKILL cannot be caught; a resume then starts at the last periodic
    checkpoint. In a multi-process run, a step that fails (a peer died)
    raises `PeerLost`.
    """
    from kgan.callbacks import Checkpoint, CheckpointError

    checkpoint = next(c for c in callbacks if isinstance(c, Checkpoint))

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
        path = checkpoint.save()
        raise Interrupted(
            f"interrupted; the state is saved in {path}. Run the same "
            "command with --resume to continue from it."
        ) from None
    except (RunError, distribution.DistributionError):
        raise
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
    from kgan.callbacks import TerminateOnNaN
    from kgan.callbacks._common import atomic_path

    for callback in callbacks:
        message = getattr(callback, "nan_message", None)
        if isinstance(callback, TerminateOnNaN) and message:
            if callback.checkpoint and callback.checkpoint.latest():
                advice = (
                    "Continue from it with --resume and a lower --lr (the "
                    "flag replaces the checkpoint's learning rate)."
                )
            else:
                advice = "Start again with a lower --lr and another --out."
            raise Diverged(
                f"{message} No generator.keras was written. {advice}"
            )
    path = os.path.join(config.out, "generator.keras")
    if distribution.is_chief():
        with atomic_path(path) as tmp, distribution.process_local():
            generator.save(tmp)
    say(f"saved {path}; pictures in {os.path.join(config.out, 'samples')}")
    return path


def generator_to_evaluate(generator, path):
    """The generator for the final report, or None in the processes that
    do not write it.

    After a multi-process run the trained model's weights span every
    process, and process 0 alone cannot run it: it reloads the file it
    saved instead, onto its own devices.
    """
    if distribution.process_count() == 1:
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
    with open(path, "w") as f:
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
