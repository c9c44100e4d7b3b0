"""Models and the compiled trainer a `RunConfig` describes."""

import keras

from kgan import layers, losses, models, training
from kgan.recipes.errors import ConfigError


def build_models(config):
    """`(generator, discriminator)` for `config`; a size the builders
    cannot make raises `ConfigError`."""
    try:
        return _generator(config), _discriminator(config)
    except ValueError as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(
            f"`image_size` {config.image_size}: {error}"
        ) from None


def _width(config):
    width = {"base_channels": config.base_channels}
    if config.max_channels is not None:
        width["max_channels"] = config.max_channels
    return width


def _options(config, *names):
    """The config's settings among `names` that are set (not None)."""
    renamed = {"attention": "attention_resolution"}
    return {
        renamed.get(name, name): getattr(config, name)
        for name in names
        if getattr(config, name) is not None
    }


def _dcgan(config, shape, classes, width):
    if config.progressive:
        return models.progressive_dcgan_generator(
            *shape, equalized_lr=config.equalized_lr, **width
        )
    return models.dcgan_generator(
        *shape, classes, **width, **_options(config, "kernel_size")
    )


def _resnet(config, shape, classes, width):
    return models.resnet_generator(
        *shape, classes, hierarchical_latent=False, **width,
        **_options(config, "attention"),
    )  # fmt: skip


def _selfmod(config, shape, classes, width):
    return models.selfmod_generator(
        *shape, classes, body=config.body or "dcgan",
        hidden_units=config.z_dim, **width,
        **_options(config, "kernel_size", "attention"),
    )  # fmt: skip


def _stylegan(config, shape, classes, width):
    return models.stylegan_generator(
        *shape, classes, mapping_layers=config.mapping_layers,
        style_mixing=config.style_mixing, equalized_lr=config.equalized_lr,
        progressive=config.progressive, **width,
    )  # fmt: skip


# `arch` -> the generator builder (the choices of `RunConfig.arch`).
GENERATORS = {
    "dcgan": _dcgan,
    "resnet": _resnet,
    "selfmod": _selfmod,
    "stylegan": _stylegan,
}
# `trainer` -> its class (O-GAN, `ogan`, is a one-step trainer).
TRAINERS = {
    "onestep": training.OneStepGAN,
    "alternating": training.AlternatingGAN,
}
# `xla` -> Keras' `jit_compile`.
JIT = {"auto": "auto", "on": True, "off": False}


def _generator(config):
    shape = (config.image_size, config.channels, config.z_dim)
    build = GENERATORS[config.arch]
    return build(config, shape, config.num_classes, _width(config))


def _discriminator(config):
    output_dim = config.z_dim if config.ogan else 1
    args = (config.image_size, config.channels, config.num_classes, output_dim)
    d_options = {
        "spectral_norm": config.discriminator_spectral_norm,
        "minibatch_std": config.minibatch_std,
    }
    if config.arch == "resnet":  # SNGAN's critic: no BatchNorm to begin with
        return models.resnet_discriminator(
            *args, **_width(config), **d_options,
            **_options(config, "attention"),
        )  # fmt: skip
    d = models.dcgan_discriminator(
        *args,
        batch_norm=not config.gradient_penalised,
        **_width(config),
        **_options(config, "kernel_size"),
        **d_options,
    )
    if not config.progressive:
        return d
    # Real and fake images both reach D at the current stage's resolution;
    # labels (a conditional D) pass through.
    inputs = [
        keras.Input(x.shape[1:], dtype=x.dtype, name=name)
        for x, name in zip(d.inputs, ["images", "labels"])
    ]
    seen = layers.ProgressiveDownsample(name="progressive_downsample")(
        inputs[0]
    )
    if len(inputs) == 1:
        return keras.Model(inputs[0], d(seen), name="progressive_discriminator")
    return keras.Model(
        inputs, d([seen, *inputs[1:]]), name="progressive_discriminator"
    )


def optimizer(config, lr, ema=False):
    """RMSprop(lr, rho=0.99), Su's optimizer, with Keras' weight EMA at
    `config.ema` when `ema` is true."""
    return keras.optimizers.RMSprop(
        lr, rho=0.99, use_ema=ema and config.ema is not None,
        ema_momentum=config.ema or 0.99,
    )  # fmt: skip


def adversarial_loss(config):
    """`(loss, regularizers)` for the config's loss and label smoothing."""
    loss, regularizers = losses.get_preset(config.adversarial_loss)
    if config.label_smoothing:
        base = losses.preset_loss_name(config.adversarial_loss)
        loss = losses.get_loss(base, label_smoothing=config.label_smoothing)
    return loss, regularizers


def augmentation(config):
    """The trainer's `augment`: the policy string (the trainer makes its
    DiffAugment), or an adaptive DiffAugment (ADA's probability)."""
    if config.augment_target is None:
        return config.augment
    return layers.DiffAugment(
        config.augment,
        target=config.augment_target,
        adjust_images=int(round((config.augment_kimg or 500) * 1000)),
        seed=config.seed + 1,  # the stream a policy string's layer takes
    )


def build_trainer(config, generator, discriminator):
    """The compiled trainer: OGAN, AlternatingGAN or OneStepGAN."""
    jit = JIT[config.xla]
    g_lr = config.g_lr or config.lr
    # TTUR: G gets an optimizer of its own only when its rate differs.
    g_optimizer = optimizer(config, g_lr) if g_lr != config.lr else None
    extra = {"seed": config.seed}
    if config.augment:
        extra["augment"] = augmentation(config)
    if config.instance_noise is not None:
        extra["instance_noise"] = losses.InstanceNoise(
            config.instance_noise, decay_steps=config.steps
        )
    if config.critic_clip:
        losses.apply_weight_clipping(discriminator, config.critic_clip)
    # "model" scope: one optimizer trains and averages every weight, G's
    # and D's (Su's 256 px script); else the EMA averages G alone.
    whole = config.ema_scope == "model"
    compiled = {
        "g_optimizer": g_optimizer,
        "ema_momentum": None if whole else config.ema,
        "jit_compile": jit,
    }
    if config.ogan:
        corr = {} if config.corr_weight is None else {
            "corr_weight": config.corr_weight
        }  # fmt: skip
        gan = training.OGAN(
            generator, discriminator, formulation=config.formulation,
            **corr, **extra,
        )  # fmt: skip
        gan.compile(optimizer(config, config.lr, ema=whole), **compiled)
        return gan
    loss, regularizers = adversarial_loss(config)
    trainer = TRAINERS[config.trainer]
    if trainer is training.AlternatingGAN:
        gan = trainer(
            generator, discriminator, loss=loss, regularizers=regularizers,
            d_steps=config.n_critic or 1, **extra,
        )  # fmt: skip
        gan.compile(
            optimizer(config, config.lr),
            optimizer(config, g_lr, ema=True),
            jit_compile=jit,
        )
        return gan
    gan = trainer(
        generator, discriminator, loss=loss, regularizers=regularizers,
        formulation=config.formulation, **extra,
    )  # fmt: skip
    gan.compile(optimizer(config, config.lr, ema=whole), **compiled)
    return gan


def build(config):
    """`(gan, generator, discriminator)`: models and trainer for `config`,
    built under the current distribution scope."""
    generator, discriminator = build_models(config)
    return (
        build_trainer(config, generator, discriminator),
        generator,
        discriminator,
    )
