"""Settings of a `RunConfig` that cannot work together, by topic.

Each check raises `ConfigError` with one line that names the settings (in
backticks: a script shows them as flags) and the fix. One value at a time
is checked against its declaration (`settings.check_value`); these are the
rules between values.
"""

from kgan.recipes.errors import ConfigError


def check(config):
    """Runs every check on `config`."""
    for topic in (_data, _model, _ogan, _loss, _augmentation, _ema):
        topic(config)


def _data(c):
    from kgan.models import check_image_size

    try:  # the builders' own rule, before any data is read
        check_image_size(c.image_size)
    except ValueError as error:
        raise ConfigError(f"`image_size` {c.image_size}: {error}") from None


def _model(c):
    if c.progressive and not (
        c.arch == "stylegan" or (c.arch == "dcgan" and c.num_classes is None)
    ):
        raise ConfigError(
            "`progressive` grows the StyleGAN form and the unconditional "
            "DCGAN form (kgan has no progressive ResNet, SELF-MOD or "
            "class-conditional DCGAN yet): use `arch` stylegan, or dcgan "
            "without `num_classes`, or drop `progressive`."
        )
    if c.minibatch_std and c.batch_size % 4:
        raise ConfigError(
            "`minibatch_std` takes the standard deviation over groups of 4 "
            "images: use a `batch_size` that is a multiple of 4, not "
            f"{c.batch_size}."
        )
    if c.style_mixing > 1:
        raise ConfigError(
            f"`style_mixing` is a probability in [0, 1], got {c.style_mixing}"
        )
    if c.style_mixing and c.arch != "stylegan":
        raise ConfigError(
            "`style_mixing` belongs to the StyleGAN form: choose `arch` "
            "stylegan, or drop `style_mixing`."
        )
    if c.equalized_lr and not (c.arch == "stylegan" or c.progressive):
        raise ConfigError(
            "`equalized_lr` belongs to the StyleGAN form and the "
            "progressive DCGAN form: choose `arch` stylegan or turn "
            "`progressive` on, or drop `equalized_lr`."
        )
    if c.body is not None and c.arch != "selfmod":
        raise ConfigError(
            f"`body` chooses the body of `arch` selfmod, not {c.arch}."
        )
    if c.attention is not None and not c.resnet_generator:
        raise ConfigError(
            "`attention` needs a ResNet generator: `arch` resnet, or "
            "`arch` selfmod with `body` resnet."
        )
    if c.kernel_size is not None and c.resnet_generator:
        raise ConfigError(
            "`kernel_size` sets the DCGAN convolutions; a ResNet body has "
            "3x3 residual blocks only: drop `kernel_size`."
        )


def _ogan(c):
    if c.ogan and c.num_classes is not None:
        raise ConfigError(
            "`ogan` takes an unconditional generator: drop `num_classes`."
        )
    if c.ogan and c.loss not in (None, "gan-qp"):
        raise ConfigError(
            f"`ogan` trains with Su's GAN-QP loss, so `loss` {c.loss} cannot "
            "apply: drop `loss`, or turn `ogan` off."
        )
    if c.corr_weight is not None and not c.ogan:
        raise ConfigError(
            "`corr_weight` weighs O-GAN's correlation term: turn `ogan` on, "
            "or drop `corr_weight`."
        )


def _loss(c):
    from kgan.losses import takes_label_smoothing

    if c.n_critic is not None and (c.trainer != "alternating" or c.ogan):
        raise ConfigError(
            "`n_critic` sets the D steps of `trainer` alternating; the "
            "one-step trainer updates D and G together: choose `trainer` "
            "alternating, or drop `n_critic`."
        )
    if c.formulation != "auto" and (c.trainer != "onestep" and not c.ogan):
        raise ConfigError(
            "`formulation` chooses how the one-step trainer computes its "
            "update: keep `trainer` onestep, or drop `formulation`."
        )
    if c.formulation != "auto":
        from kgan.losses import get_preset
        from kgan.training.one_step import resolve_formulation

        zero_sum = get_preset(c.adversarial_loss)[0].zero_sum
        try:  # the trainer's own rule
            resolve_formulation(c.formulation, zero_sum)
        except ValueError as error:
            raise ConfigError(f"`formulation`: {error}") from None
    if c.label_smoothing and (
        c.ogan or not takes_label_smoothing(c.adversarial_loss)
    ):
        raise ConfigError(
            "`label_smoothing` applies to `loss` ns, r1 or lsgan, not "
            f"{'O-GAN' if c.ogan else c.adversarial_loss}: drop it."
        )


def _augmentation(c):
    if c.augment is not None:
        from kgan.layers.diff_augment import parse_policy

        try:
            parse_policy(c.augment)
        except ValueError as error:
            raise ConfigError(f"`augment`: {error}") from None
    if c.augment_kimg is not None and c.augment_target is None:
        raise ConfigError(
            "`augment_kimg` sets the speed of the adaptive probability: "
            "give `augment_target` (ADA's 0.6), or drop `augment_kimg`."
        )
    if c.augment_target is None:
        return
    if not c.augment:
        raise ConfigError(
            "`augment_target` adapts the probability of the `augment` "
            "policy: give `augment` (e.g. translation,cutout,color)."
        )
    from kgan.losses import get_preset

    # The loss says whether one score is a verdict (its threshold).
    if get_preset(c.adversarial_loss)[0].decision_threshold is None:
        raise ConfigError(
            "`augment_target` reads D's verdict on each real image, which "
            "`loss` hinge, ns, r1 and lsgan give; "
            f"{'O-GAN' if c.ogan else c.adversarial_loss} only compares "
            "scores with one another: drop `augment_target` (the policy "
            "then always applies)."
        )


def _ema(c):
    if c.ema_scope == "model" and c.ema is None:
        raise ConfigError(
            "`ema_scope` model averages every weight: give `ema` a momentum "
            "(e.g. 0.999)."
        )
    if c.ema_scope == "model" and (
        c.g_lr not in (None, c.lr) or c.trainer == "alternating"
    ):
        raise ConfigError(
            "`ema_scope` model needs the one optimizer of the one-step "
            "trainer: drop `g_lr`, and keep `trainer` onestep."
        )
