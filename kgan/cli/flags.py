"""The flags both scripts share, and the argparse types they use."""

import argparse
import math
import sys

from kgan import distribution
from kgan.recipes import presets
from kgan.recipes.config import ARCHS, EMA_SCOPES, LOSSES


def positive_int(text):
    """argparse type: an int >= 1 (a bad value is a usage error)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def positive_float(text):
    """argparse type: a finite float > 0."""
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


class Parser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` that also records which flags the command
    line typed (`args.typed`, a set of dests): a typed flag that cannot
    apply is refused instead of ignored, and on `--resume` the typed flags
    win over the run's saved settings. Abbreviated flags are off, so a
    typed flag is always spelled out."""

    def __init__(self, **kwargs):
        self.flag_actions = []  # before argparse adds --help
        super().__init__(allow_abbrev=False, **kwargs)

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        self.flag_actions.append(action)
        return action

    def parse_args(self, args=None, namespace=None):
        argv = sys.argv[1:] if args is None else [str(a) for a in args]
        parsed = super().parse_args(argv, namespace)
        tokens = argv[: argv.index("--")] if "--" in argv else argv
        parsed.typed = {
            action.dest
            for action in self.flag_actions
            for option in action.option_strings
            for token in tokens
            if token == option or token.startswith(option + "=")
        }
        return parsed


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
    p = Parser(
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
        help="learning rate (RMSprop, rho 0.99, as Su's scripts)",
    )
    p.add_argument(
        "--g-lr",
        type=positive_float,
        default=None,
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
        default=None,
        help="adversarial loss, default hinge (O-GAN: its own gan-qp); "
        "gan-qp is at O-GAN's scale, gan-qp-l1 at the GAN-QP paper's; "
        "wgan-gp / wgan-div / r1 add their penalty, "
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
        default=None,
        help="--trainer alternating: D steps per G step (default 1; WGAN's 5)",
    )
    p.add_argument(
        "--label-smoothing",
        type=float,
        default=None,
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
        "--augment",
        default=None,
        metavar="POLICY",
        help="DiffAugment (Zhao et al. 2020) on every D input, real and "
        "fake: a comma-separated policy of color, translation, cutout "
        "(e.g. translation,cutout,color), for small datasets; "
        "docs/AUGMENTATION.md",
    )
    p.add_argument(
        "--augment-target",
        type=float,
        default=None,
        metavar="R",
        help="ADA's adaptive probability (Karras et al. 2020) for --augment: "
        "each transform applies with a probability p that starts at 0 and "
        "moves toward keeping E[sign D(x)] at R (ADA: 0.6); logged as "
        "augment_p",
    )
    p.add_argument(
        "--augment-kimg",
        type=positive_float,
        default=None,
        metavar="K",
        help="with --augment-target: p can move by 1 in K thousand images "
        "(default ADA's 500; lower for short runs)",
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
        default=None,
        help="--arch selfmod: the generator body whose BNs are modulated, "
        "default dcgan (Su's SELF-MOD post trains both)",
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
        help="O-GAN: the discriminator becomes an encoder, trained with "
        "Su's GAN-QP loss; --no-ogan turns it off",
    )
    p.add_argument(
        "--corr-weight",
        type=non_negative_float,
        default=None,
        metavar="W",
        help="--ogan: weight of the correlation term (default 0.5; 1.0 in "
        "Su's 256 px run)",
    )
    p.add_argument(
        "--ema",
        type=momentum,
        default=None,
        metavar="MOMENTUM",
        help="keep an EMA of the generator's weights (e.g. 0.999); "
        "pictures, metrics and generator.keras use it",
    )
    p.add_argument(
        "--ema-scope",
        choices=EMA_SCOPES,
        default="generator",
        help="what --ema averages: the generator, or the whole model (D, "
        "the O-GAN encoder, too: Su's 256 px script)",
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
        "--tensorboard",
        action="store_true",
        help="also write TensorBoard logs to --out/tensorboard: losses and "
        "scores every --sample-every steps, the sample grids, and the "
        "final MNIST-FID (`tensorboard --logdir OUT/tensorboard`)",
    )
    p.add_argument(
        "--preset",
        choices=tuple(presets.PRESETS),
        default=None,
        help="start from one of Su's O-GAN scripts (flags typed as well "
        "win): "
        + "; ".join(
            presets.describe(name).replace("%", "%%")
            for name in presets.PRESETS
        ),
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
    p.add_argument(
        "--progressive",
        action="store_true",
        help="progressive growing (PGGAN): G (a pixel-normalised DCGAN "
        "form, or with --arch stylegan the StyleGAN form) and D grow from "
        "4x4 to the image size; the stages share --steps equally, the "
        "first half of each fading it in",
    )
    p.add_argument(
        "--style-mixing",
        type=float,
        default=0.0,
        metavar="P",
        help="--arch stylegan: style-mixing regularisation with this "
        "probability per batch (StyleGAN's 0.9); 0 is off",
    )
    p.add_argument(
        "--equalized-lr",
        action="store_true",
        help="--arch stylegan or --progressive: equalised learning rate "
        "(PGGAN) in G (StyleGAN form: the mapping network x0.01, the "
        "convolutions and AdaIN's projections)",
    )
    p.add_argument(
        "--minibatch-std",
        action="store_true",
        help="PGGAN's minibatch standard deviation channel in D (groups of "
        "4: --batch-size a multiple of 4)",
    )
    p.set_defaults(**defaults)
    # `--no-ema` shares `--ema`'s dest: it must not carry (or print) a
    # default of its own.
    no_ema.default = argparse.SUPPRESS
    return p


def parse(parser, argv=None):
    """Parses `argv`; with `--preset`, the preset's settings become the
    defaults first, so the flags typed as well win. Settings the script
    has no flag for (the image size of train_mnist.py) are kept in
    `args.preset_unused` for `run_config` to report."""
    known, _ = parser.parse_known_args(argv)
    unused = {}
    if known.preset is not None:
        settings = presets.preset(known.preset)
        unused = {k: v for k, v in settings.items() if not hasattr(known, k)}
        parser.set_defaults(
            **{k: v for k, v in settings.items() if k not in unused}
        )
    args = parser.parse_args(argv)
    args.preset_unused = unused
    return args
