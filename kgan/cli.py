"""The argument set and model/trainer factory shared by the train scripts.

`train_mnist.py` and `train_celeba.py` spell every flag the same way; this
module holds the flags, and turns parsed flags into models and a trainer.
"""

import argparse
import contextlib
import math
import os
import re
import signal
import sys
import threading

import keras

from kgan import distribution, losses, models, training
from kgan.training.optimizers import network_optimizers

ARCHS = ("dcgan", "resnet", "selfmod", "stylegan")
LOSSES = (
    "hinge", "ns", "wgan", "wgan-gp", "wgan-div", "lsgan", "rsgan", "ragan",
    "gan-qp", "r1",
)  # fmt: skip


def positive_int(text):
    """argparse type: an int >= 1 (a bad value is a usage error)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


class Typed(argparse.Action):
    """Stores the value and records that the user typed the flag, so a
    flag that cannot apply is refused instead of silently ignored."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        typed = set(getattr(namespace, "typed", set()))
        setattr(namespace, "typed", typed | {self.dest})


def typed(args, name):
    """True if the user gave the flag `name` on the command line."""
    return name in getattr(args, "typed", set())


def momentum(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def common_parser(description, out_default, steps_default, **defaults):
    """The flags both scripts share; `defaults` overrides per script."""
    p = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", help="path to the training data")
    p.add_argument(
        "--out",
        default=out_default,
        help="output folder: generator.keras, samples/, history.csv, "
        "loss.png, checkpoint/",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=steps_default,
        help="training steps (optimizer updates)",
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=64, help="images per step"
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        default=1e-4,
        action=Typed,
        help="learning rate (RMSprop, rho 0.99, as Su's scripts)",
    )
    p.add_argument(
        "--g-lr",
        type=positive_float,
        default=None,
        action=Typed,
        help="the generator's own learning rate (TTUR, Heusel et al. "
        "2017); default: --lr",
    )
    p.add_argument(
        "--z-dim", type=positive_int, default=128, help="latent size"
    )
    p.add_argument(
        "--arch",
        choices=ARCHS,
        default="dcgan",
        help="generator family (the discriminator is DCGAN's, or "
        "ResNet's for --arch resnet)",
    )
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default="hinge",
        action=Typed,
        help="adversarial loss (wgan-gp / wgan-div / r1 add their penalty, "
        "and their critic has no BatchNorm; plain wgan clips the critic's "
        "weights, see --weight-clip)",
    )
    p.add_argument(
        "--weight-clip",
        type=non_negative_float,
        default=None,
        metavar="C",
        help="clip every critic weight into [-C, C] after each step (the "
        "WGAN paper's constraint); default 0.01 for --loss wgan, off "
        "otherwise; 0 turns it off",
    )
    p.add_argument(
        "--trainer",
        choices=("onestep", "alternating"),
        default="onestep",
        help="one loss and one optimizer, or the D-then-G loop",
    )
    p.add_argument(
        "--n-critic",
        type=positive_int,
        default=1,
        action=Typed,
        help="--trainer alternating: D steps per G step (WGAN's 5)",
    )
    p.add_argument(
        "--label-smoothing",
        type=float,
        default=0.0,
        action=Typed,
        metavar="A",
        help="one-sided label smoothing of D's real targets (1 - A) for "
        "--loss ns, r1 or lsgan (Salimans et al. 2016)",
    )
    p.add_argument(
        "--instance-noise",
        type=positive_float,
        default=None,
        metavar="SIGMA",
        help="Gaussian noise of this std on every D input, annealed "
        "linearly to zero at --steps (Sonderby et al. 2016)",
    )
    p.add_argument(
        "--spectral-norm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="spectral normalisation of every D layer (default: on for "
        "--arch resnet, off otherwise)",
    )
    p.add_argument(
        "--body",
        choices=("dcgan", "resnet"),
        default="dcgan",
        action=Typed,
        help="--arch selfmod: the generator body whose BNs are modulated "
        "(Su's SELF-MOD post trains both)",
    )
    p.add_argument(
        "--attention",
        type=positive_int,
        default=None,
        metavar="RES",
        help="self-attention (SAGAN) at this resolution, in a ResNet G "
        "(--arch resnet, or selfmod --body resnet) and the ResNet D of "
        "--arch resnet",
    )
    p.add_argument(
        "--kernel-size",
        type=positive_int,
        default=None,
        help="kernel of the DCGAN convolutions, in G (dcgan, selfmod) and "
        "D (all but resnet); default 4 (Su's o_gan_celeba.py: 5)",
    )
    p.add_argument(
        "--max-channels",
        type=positive_int,
        default=None,
        help="cap on any layer's width (default: each builder's own)",
    )
    p.add_argument(
        "--ogan",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="O-GAN: the discriminator becomes an encoder (Su's GAN-QP "
        "loss; --loss is ignored); --no-ogan turns it off",
    )
    p.add_argument(
        "--ema",
        type=momentum,
        default=None,
        metavar="MOMENTUM",
        help="keep an EMA of the generator's weights (e.g. 0.999); "
        "pictures, metrics and generator.keras use it",
    )
    no_ema = p.add_argument(
        "--no-ema",
        dest="ema",
        action="store_const",
        const=None,
        help="no weight EMA: sample from the trained weights themselves",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the weights, the noise, the data order and the "
        "fixed z of the pictures",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint in --out/checkpoint, at the "
        "step it was written (Ctrl-C and kill -TERM write one first)",
    )
    p.add_argument(
        "--xla",
        choices=("auto", "on", "off"),
        default="off",
        help="XLA compilation (off is fastest on CPU)",
    )
    p.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_float16 (for GPUs)",
    )
    p.add_argument(
        "--distribution",
        choices=distribution.MODES,
        default="none",
        help="data-parallel: one model trained over every device (TensorFlow: "
        "the local GPUs; JAX: every device of every process, several "
        "processes via KERAS_DISTRIBUTION_* variables); --batch-size is "
        "the global batch",
    )
    p.add_argument(
        "--join-timeout",
        type=positive_int,
        default=120,
        metavar="SECONDS",
        help="multi-process runs: how long a process waits for the others "
        "to join before it stops with an error",
    )
    p.add_argument(  # the flag's old name, kept working
        "--strategy",
        choices=("default", "mirrored"),
        default=None,
        help=argparse.SUPPRESS,
    )
    p.add_argument(
        "--truncation",
        type=positive_float,
        default=None,
        help="truncation trick for the final samples: z components beyond "
        "this are redrawn (BigGAN); for --arch stylegan, psi toward the "
        "average w",
    )
    p.add_argument(
        "--sample-every",
        type=positive_int,
        default=100,
        help="write sample (and reconstruction) grids every N steps",
    )
    p.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=100,
        help="write a checkpoint every N steps (one Keras epoch)",
    )
    p.add_argument(
        "--base-channels",
        type=positive_int,
        default=64,
        help="width at image_size / 2",
    )
    p.add_argument(
        "--mapping-layers",
        type=positive_int,
        default=4,
        help="--arch stylegan: depth of the mapping network z -> w (1 "
        "avoided the mode collapse of 4 on MNIST, docs/RESULTS.md)",
    )
    p.set_defaults(**defaults)
    # `--no-ema` shares `--ema`'s dest: it must not carry (or print) a
    # default of its own.
    no_ema.default = argparse.SUPPRESS
    return p


def fail(message):
    """Ends the script with a one-line error, no traceback."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def build_models(args, image_size, channels, num_classes=None):
    """Generator and discriminator for the flags."""
    width = {"base_channels": args.base_channels}
    if args.max_channels is not None:
        width["max_channels"] = args.max_channels
    kernel = (
        {} if args.kernel_size is None else {"kernel_size": args.kernel_size}
    )
    resnet_g = args.arch == "resnet" or (
        args.arch == "selfmod" and args.body == "resnet"
    )
    if typed(args, "body") and args.arch != "selfmod":
        fail(f"--body chooses the body of --arch selfmod, not {args.arch}.")
    if args.attention is not None and not resnet_g:
        fail(
            "--attention needs a ResNet generator: --arch resnet, or --arch "
            "selfmod --body resnet."
        )
    if kernel and resnet_g:
        fail(
            "--kernel-size sets the DCGAN convolutions; a ResNet body has "
            "3x3 residual blocks only: drop --kernel-size."
        )
    attention = {}
    if args.attention is not None:
        attention["attention_resolution"] = args.attention
    if args.arch == "dcgan":
        g = models.dcgan_generator(
            image_size, channels, args.z_dim, num_classes, **width, **kernel
        )
    elif args.arch == "resnet":
        g = models.resnet_generator(
            image_size, channels, args.z_dim, num_classes,
            hierarchical_latent=False, **width, **attention,
        )  # fmt: skip
    elif args.arch == "selfmod":
        g = models.selfmod_generator(
            image_size, channels, args.z_dim, num_classes, body=args.body,
            hidden_units=args.z_dim, **width, **kernel, **attention,
        )  # fmt: skip
    else:
        g = models.stylegan_generator(
            image_size,
            channels,
            args.z_dim,
            num_classes,
            mapping_layers=args.mapping_layers,
            **width,
        )
    output_dim = args.z_dim if args.ogan else 1
    spectral = {}
    if args.spectral_norm is not None:
        spectral["spectral_norm"] = args.spectral_norm
    if args.arch == "resnet":  # SNGAN's critic: no BatchNorm to begin with
        d = models.resnet_discriminator(
            image_size, channels, num_classes, output_dim, **width,
            **spectral, **attention,
        )  # fmt: skip
    else:
        d = models.dcgan_discriminator(
            image_size,
            channels,
            num_classes,
            output_dim,
            batch_norm=not gradient_penalised(args),
            **width,
            **kernel,
            **spectral,
        )
    return g, d


def gradient_penalised(args):
    """True when `--loss` adds a penalty on D's input gradient. Each
    example's gradient must depend on that example alone, which BatchNorm
    in the critic breaks (WGAN-GP paper, section 4): the critic drops it."""
    return not args.ogan and args.loss in ("wgan-gp", "wgan-div", "r1")


def build_trainer(args, generator, discriminator):
    """The compiled trainer for the flags."""
    loss, regularizers = adversarial_loss(args)
    jit = {"auto": "auto", "on": True, "off": False}[args.xla]

    def optimizer(lr, ema=False):
        return keras.optimizers.RMSprop(
            lr, rho=0.99, use_ema=ema and args.ema is not None,
            ema_momentum=args.ema or 0.99,
        )  # fmt: skip

    g_lr = args.g_lr or args.lr
    # TTUR: G gets an optimizer of its own only when its rate differs.
    g_optimizer = optimizer(g_lr) if g_lr != args.lr else None
    common = {"regularizers": regularizers, "seed": args.seed}
    noise = {}
    if args.instance_noise is not None:
        noise["instance_noise"] = losses.InstanceNoise(
            args.instance_noise, decay_steps=args.steps
        )
    if args.ogan and len(generator.inputs) == 2:
        fail("--ogan takes an unconditional generator: drop --conditional.")
    if args.ogan and typed(args, "loss") and args.loss != "gan-qp":
        fail(
            f"--ogan trains with Su's GAN-QP loss, so --loss {args.loss} "
            "cannot apply: drop --loss, or add --no-ogan."
        )
    if typed(args, "n_critic") and (args.trainer != "alternating" or args.ogan):
        fail(
            "--n-critic sets the D steps of --trainer alternating; the "
            "one-step trainer updates D and G together: add --trainer "
            "alternating, or drop --n-critic."
        )
    clip = weight_clip(args)
    if clip:
        losses.apply_weight_clipping(discriminator, clip)
    if args.ogan:
        gan = training.OGAN(generator, discriminator, seed=args.seed, **noise)
        gan.compile(
            optimizer(args.lr),
            g_optimizer=g_optimizer,
            ema_momentum=args.ema,
            jit_compile=jit,
        )
    elif args.trainer == "alternating":
        gan = training.AlternatingGAN(
            generator, discriminator, loss=loss, d_steps=args.n_critic,
            **common, **noise,
        )  # fmt: skip
        gan.compile(
            optimizer(args.lr), optimizer(g_lr, ema=True), jit_compile=jit
        )
    else:
        gan = training.OneStepGAN(
            generator, discriminator, loss=loss, **common, **noise
        )
        # The EMA averages the generator alone (D's own optimizer has none).
        gan.compile(
            optimizer(args.lr),
            g_optimizer=g_optimizer,
            ema_momentum=args.ema,
            jit_compile=jit,
        )
    return gan


def adversarial_loss(args):
    """`(loss, regularizers)` for `--loss` and `--label-smoothing`."""
    loss, regularizers = losses.get_preset(args.loss)
    if typed(args, "label_smoothing") and args.label_smoothing:
        base = {"r1": "ns"}.get(args.loss, args.loss)
        if base not in ("ns", "lsgan") or args.ogan:
            fail(
                f"--label-smoothing applies to --loss ns, r1 or lsgan, not "
                f"{'O-GAN' if args.ogan else args.loss}: drop it."
            )
        try:
            loss = losses.get_loss(base, label_smoothing=args.label_smoothing)
        except ValueError as error:
            fail(f"--label-smoothing {args.label_smoothing}: {error}")
    return loss, regularizers


def weight_clip(args):
    """The critic's weight bound: `--weight-clip`, else 0.01 for plain
    `--loss wgan` (whose critic is otherwise unconstrained), else none."""
    if args.weight_clip is not None:
        return args.weight_clip
    return 0.01 if args.loss == "wgan" and not args.ogan else 0.0


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


def placement(args):
    """Checks `--out`, joins the processes of a multi-process run and sets
    up `--distribution`: first thing in a script, before any model exists.

    Ends the script with one line for a set-up that cannot work (a partial
    launch, a batch that does not split, a coordinator out of reach).
    """
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        fail(
            f"--out {args.out} is a file: give a folder (the run writes "
            "generator.keras, samples/, history.csv and checkpoint/ in it)."
        )
    if args.strategy is not None:
        mode = "data-parallel" if args.strategy == "mirrored" else "none"
        print(
            f"kgan: --strategy is deprecated; read as --distribution {mode}",
            file=sys.stderr,
        )
        args.distribution = (
            mode if args.distribution == "none" else (args.distribution)
        )
    try:
        with exit_unless_joined(args.join_timeout):
            # JAX's own limit comes later: the message above comes first.
            distribution.join_processes(args.join_timeout + 30)
        where = distribution.place(args.distribution)
        where.check_batch_size(args.batch_size)
    except (distribution.DistributionError, ValueError) as error:
        fail(str(error))
    say(f"kgan: training on {where.describe()}")
    return where


@contextlib.contextmanager
def exit_unless_joined(seconds):
    """Ends the process with one line if the block (joining the processes)
    takes more than `seconds`.

    A process that waits for a missing peer is stuck inside JAX, which
    later aborts with a C++ stack trace; a timer thread gets in first.
    """
    settings = distribution.launch_settings()
    if settings is None:
        yield
        return
    coordinator, count, rank = settings

    def give_up():
        print(
            f"error: process {rank} of {count}: the run did not come "
            f"together within --join-timeout {seconds} s: start all "
            f"{count} processes with the same command and variables "
            f"(process 0 listens on {coordinator}), and check the address, "
            "the port and the firewall.",
            file=sys.stderr,
            flush=True,
        )
        os._exit(2)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def say(message):
    """Prints in process 0 only (every process runs the same script)."""
    if distribution.is_chief():
        print(message, flush=True)
