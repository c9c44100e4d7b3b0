"""The argument set and model/trainer factory shared by the train scripts.

`train_mnist.py` and `train_celeba.py` spell every flag the same way; this
module holds the flags, and turns parsed flags into models and a trainer.
"""

import argparse
import os
import sys

import keras

from kgan import losses, models, training

ARCHS = ("dcgan", "resnet", "selfmod", "stylegan")
LOSSES = (
    "hinge", "ns", "wgan", "wgan-gp", "wgan-div", "lsgan", "rsgan", "ragan",
    "gan-qp", "r1",
)  # fmt: skip


def common_parser(description, out_default, steps_default, **defaults):
    """The flags both scripts share; `defaults` overrides per script."""
    p = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", help="path to the training data")
    p.add_argument("--out", default=out_default, help="output folder")
    p.add_argument(
        "--steps",
        type=int,
        default=steps_default,
        help="training steps (optimizer updates)",
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--lr",
        type=float,
        default=1e-4,
        help="learning rate (RMSprop, rho 0.99, as Su's scripts)",
    )
    p.add_argument("--z-dim", type=int, default=128, help="latent size")
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
        help="adversarial loss (wgan-gp / wgan-div / r1 add their penalty)",
    )
    p.add_argument(
        "--trainer",
        choices=("onestep", "alternating"),
        default="onestep",
        help="one loss and one optimizer, or the D-then-G loop",
    )
    p.add_argument(
        "--ogan",
        action="store_true",
        help="O-GAN: the discriminator becomes an encoder",
    )
    p.add_argument(
        "--ema",
        type=float,
        default=None,
        metavar="MOMENTUM",
        help="keep an EMA of the weights (e.g. 0.999)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint in --out",
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
        "--strategy",
        choices=("default", "mirrored"),
        default="default",
        help="mirrored: data-parallel over all local GPUs",
    )
    p.add_argument(
        "--sample-every",
        type=int,
        default=100,
        help="write a sample grid every N steps",
    )
    p.add_argument(
        "--base-channels", type=int, default=64, help="width at image_size / 2"
    )
    p.set_defaults(**defaults)
    return p


def fail(message):
    """Ends the script with a one-line error, no traceback."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def build_models(args, image_size, channels, num_classes=None):
    """Generator and discriminator for the flags."""
    width = {"base_channels": args.base_channels}
    if args.arch == "dcgan":
        g = models.dcgan_generator(
            image_size, channels, args.z_dim, num_classes, **width
        )
    elif args.arch == "resnet":
        g = models.resnet_generator(
            image_size, channels, args.z_dim, num_classes,
            hierarchical_latent=False, **width,
        )  # fmt: skip
    elif args.arch == "selfmod":
        g = models.selfmod_generator(
            image_size, channels, args.z_dim, num_classes,
            hidden_units=args.z_dim, **width,
        )  # fmt: skip
    else:
        g = models.stylegan_generator(
            image_size, channels, args.z_dim, num_classes, **width
        )
    output_dim = args.z_dim if args.ogan else 1
    if args.arch == "resnet":
        d = models.resnet_discriminator(
            image_size, channels, num_classes, output_dim, **width
        )
    else:
        d = models.dcgan_discriminator(
            image_size, channels, num_classes, output_dim, **width
        )
    return g, d


def build_trainer(args, generator, discriminator):
    """The compiled trainer for the flags."""
    loss, regularizers = losses.get_preset(args.loss)
    jit = {"auto": "auto", "on": True, "off": False}[args.xla]

    def optimizer():
        return keras.optimizers.RMSprop(
            args.lr, rho=0.99, use_ema=args.ema is not None,
            ema_momentum=args.ema or 0.99,
        )  # fmt: skip

    common = {"regularizers": regularizers, "seed": args.seed}
    if args.ogan:
        gan = training.OGAN(generator, discriminator, seed=args.seed)
        gan.compile(optimizer=optimizer(), jit_compile=jit)
    elif args.trainer == "alternating":
        gan = training.AlternatingGAN(
            generator, discriminator, loss=loss, **common
        )
        gan.compile(optimizer(), optimizer(), jit_compile=jit)
    else:
        gan = training.OneStepGAN(generator, discriminator, loss=loss, **common)
        gan.compile(optimizer=optimizer(), jit_compile=jit)
    return gan


def training_callbacks(args, gan, num_classes=None, checkpoint_every=None):
    """Samples, history CSV and a resumable checkpoint in `args.out`."""
    from kgan.callbacks import SampleGrid

    os.makedirs(args.out, exist_ok=True)
    callbacks = [
        SampleGrid(
            os.path.join(args.out, "samples"),
            every_n_steps=args.sample_every,
            seed=args.seed,
            num_classes=num_classes,
        ),
        keras.callbacks.CSVLogger(
            os.path.join(args.out, "history.csv"), append=args.resume
        ),
    ]
    backup = os.path.join(args.out, "checkpoint")
    if not args.resume and os.path.exists(backup):
        fail(
            f"{backup} holds a checkpoint of an earlier run: add --resume to "
            "continue it, or choose another --out."
        )
    callbacks.append(
        keras.callbacks.BackupAndRestore(backup, save_freq="epoch")
    )
    return callbacks


def distribution_strategy(name):
    """`tf.distribute` strategy for `--strategy` (TensorFlow backend)."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
