"""Models and the compiled trainer for the parsed flags."""

import keras

from kgan import losses, models, training
from kgan.cli.flags import typed
from kgan.cli.messages import fail


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
