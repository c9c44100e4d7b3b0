"""Su Jianlin's three O-GAN CelebA scripts as run settings.

Each preset is the `RunConfig` fields its script fixes, read from
github.com/bojone/o-gan. All three train 128 or 256 px CelebA-HQ with
RMSprop(1e-4, rho=0.99), the one-step O-GAN loss and a DCGAN-shaped
encoder (stride-2 convs, BN after the first, LeakyReLU(0.2), widths
64 ... 1024 at 128 px) whose generator mirrors it, which are kgan's
defaults (`base_channels=64`, `max_channels=1024`).
"""

SOURCE = "https://github.com/bojone/o-gan/blob/master/"

RUN_PRESETS = {
    "o_gan_celeba": {
        "script": "o_gan_celeba.py",
        "about": "BN generator (DCGAN), 5x5 kernels",
        "settings": {
            "arch": "dcgan", "kernel_size": 5, "image_size": 128,
            "z_dim": 128, "batch_size": 64, "ogan": True,
            "corr_weight": 0.5, "lr": 1e-4, "ema": None,
        },
    },
    "o_gan_celeba_sm_4x4": {
        "script": "o_gan_celeba_sm_4x4.py",
        "about": "SELF-MOD generator, 4x4 kernels",
        "settings": {
            "arch": "selfmod", "kernel_size": 4, "image_size": 128,
            "z_dim": 128, "batch_size": 64, "ogan": True,
            "corr_weight": 0.5, "lr": 1e-4, "ema": None,
        },
    },
    "o_gan_celeba_sm_4x4_ema_256": {
        "script": "o_gan_celeba_sm_4x4_ema_256.py",
        # Su keeps two averages of the whole training model (0.999 and
        # 0.9999) and draws grids from both; kgan keeps one, of the same
        # scope: choose the other with --ema 0.9999.
        "about": "SELF-MOD, 4x4 kernels, 256 px, EMA 0.999 of G and D",
        "settings": {
            "arch": "selfmod", "kernel_size": 4, "image_size": 256,
            "z_dim": 256, "batch_size": 48, "ogan": True,
            "corr_weight": 1.0, "lr": 1e-4, "ema": 0.999,
            "ema_scope": "model",
        },
    },
}  # fmt: skip


def preset(name):
    """The `RunConfig` settings of preset `name` (a new dict)."""
    if name not in RUN_PRESETS:
        from kgan.recipes.errors import ConfigError

        raise ConfigError(
            f"unknown preset {name!r}: choose one of {', '.join(RUN_PRESETS)}"
        )
    return dict(RUN_PRESETS[name]["settings"])


def describe(name):
    """One line: the preset's script and its settings."""
    entry = RUN_PRESETS[name]
    settings = ", ".join(
        f"{key}={value}" for key, value in entry["settings"].items()
    )
    return f"{name} ({entry['script']}: {entry['about']}): {settings}"
