"""A script's run: callbacks, training from a checkpoint to --steps,
interrupts, the saved generator and its report."""

import contextlib
import math
import os
import re
import signal
import sys

import keras

from kgan import distribution
from kgan.cli.flags import typed
from kgan.cli.messages import fail, say
from kgan.training.optimizers import network_optimizers


def training_callbacks(
    args, gan, num_classes=None, real_images=None, sample_rows=8
):
    """The callbacks of a script run; everything goes under `args.out`.

    `samples/` gets sample grids with a fixed z (and, for O-GAN given
    `real_images`, reconstruction grids) and slerp strips every
    `--sample-every` steps, `history.csv` and `loss.png` the metrics with
    their step, `checkpoint/` the resumable state every `--checkpoint-every`
    steps (one Keras epoch). A checkpoint left by an earlier run is only
    used with `--resume`: without it the script stops rather than
    overwrite the run. In a multi-process run every process gets the same
    callbacks (the pictures are drawn collectively); only process 0 writes.
    """
    from kgan import callbacks as kc

    chief = distribution.is_chief()
    if chief:
        os.makedirs(args.out, exist_ok=True)
    checkpoint = kc.Checkpoint(os.path.join(args.out, "checkpoint"))
    latest = checkpoint.describe()
    if latest and not args.resume:
        fail(
            f"{args.out} holds the checkpoint {latest} of an earlier run: "
            "add --resume to continue it, or choose another --out."
        )
    if args.resume and not latest:
        say(f"kgan: no checkpoint in {checkpoint.backup_dir}; from step 0")
    samples = os.path.join(args.out, "samples")
    history = os.path.join(args.out, "history.csv")
    every = args.sample_every
    callbacks = [
        kc.LogStep(),  # before CSVLogger, which then writes the step
        *([keras.callbacks.CSVLogger(history, append=args.resume)] * chief),
        kc.LossPlot(os.path.join(args.out, "loss.png"), csv_path=history),
        checkpoint,  # restores before StopAtStep counts the steps
    ]
    if typed(args, "lr") or typed(args, "g_lr"):  # after the restore
        d_lr = args.lr if typed(args, "lr") else None
        g_lr = args.g_lr if typed(args, "g_lr") else d_lr
        callbacks.append(LearningRateFromCommandLine(d_lr, g_lr))
    if args.resume:
        callbacks.append(DataPosition(start_step(args)))
    callbacks += [
        kc.StopAtStep(args.steps),
        kc.TerminateOnNaN(checkpoint),
        kc.SampleGrid(samples, every, sample_rows, args.seed, num_classes),
        kc.InterpolationStrip(
            samples, every, seed=args.seed + 1, num_classes=num_classes
        ),
    ]
    if real_images is not None and hasattr(gan, "reconstruct"):
        callbacks.append(kc.ReconstructionGrid(real_images, samples, every))
    return callbacks


def start_step(args):
    """The step `--resume` continues from (the committed checkpoint's),
    else 0: the data pipeline starts at this batch, so a resumed run sees
    the batches an uninterrupted one would."""
    from kgan.callbacks import Checkpoint

    if not args.resume:
        return 0
    # Quiet: the run's own Checkpoint says what it finds, once.
    folder = os.path.join(args.out, "checkpoint")
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


class LearningRateFromCommandLine(keras.callbacks.Callback):
    """Sets `--lr` / `--g-lr` after a resume: a checkpoint restores the
    optimizers' learning rates with their state, and the flags the user
    typed win.

    Args:
        d_lr: D's rate (`--lr`), or None to keep the checkpoint's.
        g_lr: G's rate (`--g-lr`, else `--lr`), or None.
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


def fit(args, gan, dataset, callbacks):
    """Trains from the checkpoint's step (with `--resume`) to `--steps`;
    returns False, training nothing, when the run is there already.

    Keras' epochs are `--checkpoint-every` steps; `initial_epoch` keeps
    their numbers those of an uninterrupted run.
    """
    start = start_step(args)
    if start >= args.steps:
        say(
            f"kgan: the checkpoint is at step {start}, --steps is "
            f"{args.steps}: nothing to train; raise --steps to go on "
            "(generator.keras and the pictures are unchanged)."
        )
        return False
    with checkpoint_on_interrupt(callbacks):
        gan.fit(
            dataset,
            epochs=epochs(args),
            initial_epoch=start // args.checkpoint_every,
            steps_per_epoch=args.checkpoint_every,
            callbacks=callbacks,
            verbose=1 if os.isatty(1) else 2,
        )
    return True


def epochs(args):
    """Keras epochs of `--checkpoint-every` steps covering `--steps`;
    `StopAtStep` ends the last one at the exact step."""
    return math.ceil(args.steps / args.checkpoint_every)


@contextlib.contextmanager
def checkpoint_on_interrupt(callbacks):
    """Ctrl-C or SIGTERM inside: checkpoint the current step, exit 130.

    Python runs signal handlers between bytecodes, so a compiled training
    step is never cut in half: the state saved is that after a whole step.
    A SIGKILL cannot be caught; `--resume` then starts at the last periodic
    checkpoint. A checkpoint that does not fit the model (`--resume` with
    other flags) ends the script with a one-line error.
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
        fail(f"{error}. Resume with the flags of the run that wrote it.")
    except distribution.DistributionError as error:
        fail(str(error))
    except KeyboardInterrupt:
        if not checkpoint.ready:
            fail("interrupted before training started; nothing to save.")
        path = checkpoint.save()
        if distribution.is_chief():
            print(
                f"\nkgan: interrupted; the state is saved in {path}. Run the "
                "same command with --resume to continue from it.",
                file=sys.stderr,
            )
        sys.exit(130)
    except Exception as error:
        if distribution.process_count() == 1:
            raise
        peer_lost(error, checkpoint)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def peer_lost(error, checkpoint):
    """Ends a process of a multi-process run whose step failed, at once.

    When one process dies, the others' next collective fails (gloo: the
    connection closed). A normal exit would then wait minutes in JAX's
    shutdown barrier and abort with a C++ stack trace; `os._exit` skips
    that, so the run ends in seconds with one line.
    """
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    first = re.sub(r"(Error dispatching computation: )+", "", first)
    latest = checkpoint.describe()
    print(
        f"error: process {distribution.process_index()} of "
        f"{distribution.process_count()}: training stopped ({first[:160]}); "
        "another process probably died or was stopped (see its log). "
        + (
            f"Restart every process with --resume to continue from {latest}."
            if latest
            else "No checkpoint was written yet: restart the run."
        ),
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()
    os._exit(1)


def save_generator(args, generator, callbacks):
    """Writes `generator.keras` (atomically) unless training hit a NaN;
    in a multi-process run, process 0 writes it."""
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
            fail(f"{message} No generator.keras was written. {advice}")
    path = os.path.join(args.out, "generator.keras")
    if distribution.is_chief():
        with atomic_path(path) as tmp, distribution.process_local():
            generator.save(tmp)
    say(f"saved {path}; pictures in {os.path.join(args.out, 'samples')}")
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


def mnist_report(args, generator, real_images, num_classes=None, n=2500):
    """MNIST-FID and class coverage of `generator`, written to metrics.json.

    The fakes are compared with `n` real digits (FID grows as samples
    shrink, so the real-vs-real reference uses two halves of the same size).
    """
    import json

    import numpy as np

    from kgan import metrics, sampling

    classifier = metrics.mnist_classifier()
    labels = None if num_classes is None else np.arange(n) % num_classes
    fakes = sampling.sample(
        generator, n, labels=labels, truncation=args.truncation, seed=args.seed
    )
    order = np.random.default_rng(args.seed).permutation(len(real_images))
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
        "truncation": args.truncation,
    }
    if num_classes is not None:
        predicted = classifier.predict_classes(fakes)
        report["label_accuracy"] = float(np.mean(predicted == labels))
    path = os.path.join(args.out, "metrics.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print(
        f"MNIST-FID {report['mnist_fid']:.2f} (real vs real "
        f"{report['real_vs_real_mnist_fid']:.2f}), "
        f"{report['classes_covered']}/10 classes; {path}"
    )
    return report
