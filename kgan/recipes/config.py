"""What a training run is, in one object: `RunConfig`.

The scripts map their flags onto it; benchmarks, tests and notebooks build
it directly. A setting left at None means "the default for the rest of
the config" (for example `loss=None` is hinge, or GAN-QP under O-GAN), so
a value that cannot apply is refused instead of silently ignored.
"""

import dataclasses
import json
import math

ARCHS = ("dcgan", "resnet", "selfmod", "stylegan")
LOSSES = (
    "hinge", "ns", "wgan", "wgan-gp", "wgan-div", "lsgan", "rsgan", "ragan",
    "gan-qp", "gan-qp-l1", "r1",
)  # fmt: skip
TRAINERS = ("onestep", "alternating")
EMA_SCOPES = ("generator", "model")
XLA = ("auto", "on", "off")
# Losses whose penalty on D's input gradient needs a critic without
# BatchNorm: each example's gradient must depend on that example alone
# (WGAN-GP paper, section 4).
GRADIENT_PENALISED = ("wgan-gp", "wgan-div", "r1")


class ConfigError(ValueError):
    """A run setting that cannot work; the message names it and the fix."""


@dataclasses.dataclass
class RunConfig:
    """Everything a training run is: models, objective, optimisation and
    the run folder.

    Args:
        image_size: side of the square images (a power of two >= 16).
        channels: 1 (MNIST) or 3.
        num_classes: class-conditional G and projection D, or None.
        arch: generator family, one of `ARCHS` (the discriminator is
            DCGAN's, or ResNet's for "resnet").
        body: `arch="selfmod"` only: "dcgan" (default) or "resnet".
        z_dim: latent size.
        base_channels: width at image_size / 2.
        max_channels: cap on any layer's width (None: the builder's own).
        kernel_size: the DCGAN convolutions' kernel (None: 4).
        spectral_norm: spectral normalisation of D (None: on for "resnet").
        attention: self-attention resolution in a ResNet G (and D).
        mapping_layers: `arch="stylegan"`: depth of the z -> w network.
        progressive: progressive growing (Karras et al. 2018): G and D
            grow from 4x4 to `image_size`, each stage faded in; `arch`
            stylegan, or dcgan without `num_classes` (a pixel-normalised
            DCGAN-like G). The stages share `steps` equally
            (`progressive_schedule`).
        style_mixing: `arch="stylegan"`: probability of style-mixing
            regularisation (Karras et al. 2019); 0 is off.
        equalized_lr: `arch="stylegan"` or `progressive`: the equalised
            learning rate (Karras et al. 2018) in G (the StyleGAN form's
            mapping network, convolutions and AdaIN projections; the
            progressive DCGAN form's Dense and convolutions).
        minibatch_std: PGGAN's minibatch standard deviation channel in D
            (groups of 4: `batch_size` a multiple of 4).
        ogan: O-GAN (Su 2019): D becomes an encoder, the loss is GAN-QP's.
        corr_weight: O-GAN's correlation weight (None: 0.5).
        loss: adversarial loss, one of `LOSSES` (None: hinge; O-GAN: its
            own GAN-QP).
        weight_clip: clip D's weights into [-C, C] after every step (None:
            0.01 for plain "wgan", off otherwise; 0: off).
        label_smoothing: one-sided smoothing of D's real targets, for the
            "ns", "r1" and "lsgan" losses.
        instance_noise: std of Gaussian noise on D's inputs, annealed to
            zero at `steps`.
        augment: a DiffAugment policy (Zhao et al. 2020) applied to every
            D input, real and fake, e.g. "translation,cutout,color"; None
            is off.
        augment_target: ADA's adaptive probability (Karras et al. 2020):
            the target of `r_t = E[sign D(x)]`, e.g. 0.6; each transform
            then applies with a probability `p` that starts at 0 and rises
            while D is more sure of the real images than this. None: the
            policy always applies (DiffAugment's rule).
        augment_kimg: with `augment_target`, the thousands of images over
            which `p` can move by 1 (None: ADA's 500).
        trainer: "onestep" (one loss, one optimizer) or "alternating".
        n_critic: `trainer="alternating"`: D steps per G step (None: 1).
        lr: learning rate (RMSprop, rho 0.99, as Su's scripts).
        g_lr: G's own learning rate (TTUR; None: `lr`).
        ema: momentum of a weight EMA (e.g. 0.999), or None.
        ema_scope: "generator" averages G alone; "model" every trained
            weight, D (the O-GAN encoder) included, as Su's 256 px script.
        steps: training steps (optimizer updates).
        batch_size: the global batch.
        seed: weights, noise, data order and the pictures' fixed z.
        xla: "auto", "on" or "off".
        mixed_precision: mixed_float16.
        out: the run folder (generator.keras, samples/, history.csv,
            loss.png, checkpoint/, tensorboard/).
        resume: continue from `out`/checkpoint.
        sample_every: steps between sample grids.
        checkpoint_every: steps between checkpoints (one Keras epoch).
        truncation: truncation of the final samples (BigGAN; psi in w for
            "stylegan"), or None.
        tensorboard: also write TensorBoard logs under `out`/tensorboard.
    """

    image_size: int = 32
    channels: int = 1
    num_classes: int | None = None
    arch: str = "dcgan"
    body: str | None = None
    z_dim: int = 128
    base_channels: int = 64
    max_channels: int | None = None
    kernel_size: int | None = None
    spectral_norm: bool | None = None
    attention: int | None = None
    mapping_layers: int = 4
    progressive: bool = False
    style_mixing: float = 0.0
    equalized_lr: bool = False
    minibatch_std: bool = False
    ogan: bool = False
    corr_weight: float | None = None
    loss: str | None = None
    weight_clip: float | None = None
    label_smoothing: float | None = None
    instance_noise: float | None = None
    augment: str | None = None
    augment_target: float | None = None
    augment_kimg: float | None = None
    trainer: str = "onestep"
    n_critic: int | None = None
    lr: float = 1e-4
    g_lr: float | None = None
    ema: float | None = None
    ema_scope: str = "generator"
    steps: int = 1000
    batch_size: int = 64
    seed: int = 0
    xla: str = "off"
    mixed_precision: bool = False
    out: str = "runs/gan"
    resume: bool = False
    sample_every: int = 100
    checkpoint_every: int = 100
    truncation: float | None = None
    tensorboard: bool = False

    def __post_init__(self):
        self.validate()

    # -- what the None settings stand for ----------------------------------
    @property
    def adversarial_loss(self):
        """The loss's name: `loss`, else GAN-QP (O-GAN) or hinge."""
        if self.loss is not None:
            return self.loss
        return "gan-qp" if self.ogan else "hinge"

    @property
    def gradient_penalised(self):
        """True when the loss penalises D's input gradient: the critic
        then drops BatchNorm."""
        return not self.ogan and self.adversarial_loss in GRADIENT_PENALISED

    @property
    def critic_clip(self):
        """D's weight bound: `weight_clip`, else the WGAN paper's 0.01
        for plain "wgan" (an otherwise unconstrained critic), else 0."""
        if self.weight_clip is not None:
            return self.weight_clip
        return 0.01 if self.adversarial_loss == "wgan" else 0.0

    @property
    def discriminator_spectral_norm(self):
        """`spectral_norm`, else on for "resnet" (SNGAN's critic) and off
        for the DCGAN discriminator."""
        if self.spectral_norm is not None:
            return self.spectral_norm
        return self.arch == "resnet"

    @property
    def resnet_generator(self):
        return self.arch == "resnet" or (
            self.arch == "selfmod" and self.body == "resnet"
        )

    @property
    def progressive_schedule(self):
        """`(stage_steps, fade_steps)`: every stage from 4x4 up trains an
        equal share of `steps`, the first half of it fading the stage in."""
        stages = int(math.log2(self.image_size // 4)) + 1
        stage_steps = max(1, math.ceil(self.steps / stages))
        return stage_steps, stage_steps // 2

    @property
    def epochs(self):
        """Keras epochs of `checkpoint_every` steps covering `steps`."""
        return math.ceil(self.steps / self.checkpoint_every)

    # -- checks ----------------------------------------------------------------
    def validate(self):
        """Raises `ConfigError` (one line naming the fix) for settings that
        cannot work together."""
        _choice("arch", self.arch, ARCHS)
        _choice("trainer", self.trainer, TRAINERS)
        _choice("ema_scope", self.ema_scope, EMA_SCOPES)
        _choice("xla", self.xla, XLA)
        if self.loss is not None:
            _choice("loss", self.loss, LOSSES)
        if self.body is not None:
            _choice("body", self.body, ("dcgan", "resnet"))
        for name in ("image_size", "z_dim", "base_channels", "steps",
                     "batch_size", "sample_every", "checkpoint_every",
                     "mapping_layers"):  # fmt: skip
            _at_least(name, getattr(self, name), 1)
        for name in ("max_channels", "kernel_size", "attention", "n_critic"):
            if getattr(self, name) is not None:
                _at_least(name, getattr(self, name), 1)
        if self.channels not in (1, 3):
            raise ConfigError(f"`channels` must be 1 or 3, got {self.channels}")
        for name in ("lr", "g_lr", "instance_noise", "truncation"):
            value = getattr(self, name)
            if value is not None and not 0 < value < math.inf:
                raise ConfigError(f"`{name}` must be a number > 0, got {value}")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ConfigError(f"`ema` must be in (0, 1), got {self.ema}")
        if self.weight_clip is not None and not self.weight_clip >= 0:
            raise ConfigError(
                f"`weight_clip` must be >= 0 (0: off), got {self.weight_clip}"
            )
        self._check_combinations()

    def _check_combinations(self):
        if self.progressive and not (
            self.arch == "stylegan"
            or (self.arch == "dcgan" and self.num_classes is None)
        ):
            raise ConfigError(
                "`progressive` grows the StyleGAN form and the unconditional "
                "DCGAN form (kgan has no progressive ResNet, SELF-MOD or "
                "class-conditional DCGAN yet): use `arch` stylegan, or dcgan "
                "without `num_classes`, or drop `progressive`."
            )
        if self.augment is not None:
            from kgan.layers.diff_augment import parse_policy

            try:
                parse_policy(self.augment)
            except ValueError as error:
                raise ConfigError(f"`augment`: {error}") from None
        self._check_adaptive_augment()
        if self.minibatch_std and self.batch_size % 4:
            raise ConfigError(
                "`minibatch_std` takes the standard deviation over groups of "
                f"4 images: use a `batch_size` that is a multiple of 4, not "
                f"{self.batch_size}."
            )
        if not 0 <= self.style_mixing <= 1:
            raise ConfigError(
                f"`style_mixing` is a probability in [0, 1], got "
                f"{self.style_mixing}"
            )
        if self.style_mixing and self.arch != "stylegan":
            raise ConfigError(
                "`style_mixing` belongs to the StyleGAN form: choose `arch` "
                "stylegan, or drop `style_mixing`."
            )
        if self.equalized_lr and not (
            self.arch == "stylegan" or self.progressive
        ):
            raise ConfigError(
                "`equalized_lr` belongs to the StyleGAN form and the "
                "progressive DCGAN form: choose `arch` stylegan or turn "
                "`progressive` on, or drop `equalized_lr`."
            )
        if self.body is not None and self.arch != "selfmod":
            raise ConfigError(
                f"`body` chooses the body of `arch` selfmod, not {self.arch}."
            )
        if self.attention is not None and not self.resnet_generator:
            raise ConfigError(
                "`attention` needs a ResNet generator: `arch` resnet, or "
                "`arch` selfmod with `body` resnet."
            )
        if self.kernel_size is not None and self.resnet_generator:
            raise ConfigError(
                "`kernel_size` sets the DCGAN convolutions; a ResNet body "
                "has 3x3 residual blocks only: drop `kernel_size`."
            )
        if self.ogan and self.num_classes is not None:
            raise ConfigError(
                "`ogan` takes an unconditional generator: drop `num_classes`."
            )
        if self.ogan and self.loss not in (None, "gan-qp"):
            raise ConfigError(
                f"`ogan` trains with Su's GAN-QP loss, so `loss` {self.loss} "
                "cannot apply: drop `loss`, or turn `ogan` off."
            )
        if self.corr_weight is not None and not self.ogan:
            raise ConfigError(
                "`corr_weight` weighs O-GAN's correlation term: turn `ogan` "
                "on, or drop `corr_weight`."
            )
        if self.n_critic is not None and (
            self.trainer != "alternating" or self.ogan
        ):
            raise ConfigError(
                "`n_critic` sets the D steps of `trainer` alternating; the "
                "one-step trainer updates D and G together: choose "
                "`trainer` alternating, or drop `n_critic`."
            )
        if self.label_smoothing:
            base = {"r1": "ns"}.get(self.adversarial_loss)
            if self.ogan or (base or self.adversarial_loss) not in (
                "ns",
                "lsgan",
            ):
                raise ConfigError(
                    "`label_smoothing` applies to `loss` ns, r1 or lsgan, not "
                    f"{'O-GAN' if self.ogan else self.adversarial_loss}: "
                    "drop it."
                )
        if self.ema_scope == "model" and self.ema is None:
            raise ConfigError(
                "`ema_scope` model averages every weight: give `ema` a "
                "momentum (e.g. 0.999)."
            )
        if self.ema_scope == "model" and (
            self.g_lr not in (None, self.lr) or self.trainer == "alternating"
        ):
            raise ConfigError(
                "`ema_scope` model needs the one optimizer of the one-step "
                "trainer: drop `g_lr`, and keep `trainer` onestep."
            )

    def _check_adaptive_augment(self):
        if self.augment_kimg is not None and self.augment_target is None:
            raise ConfigError(
                "`augment_kimg` sets the speed of the adaptive probability: "
                "give `augment_target` (ADA's 0.6), or drop `augment_kimg`."
            )
        if self.augment_target is None:
            return
        if not self.augment:
            raise ConfigError(
                "`augment_target` adapts the probability of the `augment` "
                "policy: give `augment` (e.g. translation,cutout,color)."
            )
        if not -1 < self.augment_target < 1:
            raise ConfigError(
                "`augment_target` is a target for the mean sign of D(x), in "
                f"(-1, 1) (ADA's 0.6), got {self.augment_target}"
            )
        if self.augment_kimg is not None and not self.augment_kimg > 0:
            raise ConfigError(
                f"`augment_kimg` must be > 0, got {self.augment_kimg}"
            )
        from kgan.losses import get_preset

        # The loss says whether one score is a verdict (its threshold).
        loss, _ = get_preset(self.adversarial_loss)
        if loss.decision_threshold is None:
            raise ConfigError(
                "`augment_target` reads D's verdict on each real image, "
                "which `loss` hinge, ns, r1 and lsgan give; "
                f"{'O-GAN' if self.ogan else self.adversarial_loss} only "
                "compares scores with one another: drop `augment_target` "
                "(the policy then always applies)."
            )

    # -- persistence -----------------------------------------------------------
    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        values = json.loads(text)
        unknown = sorted(
            set(values) - {f.name for f in dataclasses.fields(cls)}
        )
        if unknown:
            raise ConfigError(
                f"unknown run settings {', '.join(unknown)}: this config "
                "comes from another kgan version."
            )
        return cls(**values)

    def replace(self, **changes):
        """A copy with `changes` (checked like the original)."""
        return dataclasses.replace(self, **changes)


def _choice(name, value, choices):
    if value not in choices:
        raise ConfigError(
            f"`{name}` must be one of {', '.join(choices)}, got {value!r}"
        )


def _at_least(name, value, low):
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(
            f"`{name}` must be an integer >= {low}, got {value!r}"
        )
