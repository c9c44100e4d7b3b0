"""Resuming a run: the settings it saved, and those its checkpoint fixes.

A checkpoint holds the trainer's variables: both networks, the optimizers'
slots and the layers' random states. A resumed run may change how it
trains on (steps, learning rate, intervals, ...), but not what those
variables are: `checkpoint_settings` names, for every setting that shapes
them, the part that matters (tests/test_run_folder.py builds the trainers
and checks each against the variables themselves).
"""

import json
import os

from kgan.recipes.config import ConfigError, RunConfig
from kgan.recipes.errors import SettingsChanged

CONFIG_FILE = "config.json"


def config_path(out):
    return os.path.join(out, CONFIG_FILE)


def saved_config(out):
    """The `RunConfig` a run saved in `out`/config.json, or None without
    one; a file that cannot be read raises `ConfigError`."""
    path = config_path(out)
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    try:
        return RunConfig.from_json(text)
    except ValueError as error:  # ConfigError is a ValueError
        raise ConfigError(f"cannot read {path} ({error})") from None


def checkpoint_settings(config):
    """`{setting: what of it the checkpoint depends on}`."""
    c = config
    one_optimizer = c.trainer == "onestep" or c.ogan
    return {
        "image_size": c.image_size,
        "channels": c.channels,
        "num_classes": c.num_classes,
        "arch": c.arch,
        "body": (c.body or "dcgan") if c.arch == "selfmod" else None,
        "z_dim": c.z_dim,
        "base_channels": c.base_channels,
        "max_channels": c.max_channels,
        "kernel_size": c.kernel_size or 4,
        "spectral_norm": c.discriminator_spectral_norm,
        "attention": c.attention,
        "mapping_layers": c.mapping_layers if c.arch == "stylegan" else None,
        "progressive": c.progressive,
        "equalized_lr": c.equalized_lr,
        "minibatch_std": c.minibatch_std,
        "ogan": c.ogan,
        # A gradient penalty takes BatchNorm out of the critic.
        "loss": c.gradient_penalised,
        "augment": c.augment is not None,  # its random state
        "augment_target": c.augment_target is not None,  # ADA's p
        "trainer": "onestep" if c.ogan else c.trainer,
        # TTUR gives the one-step trainer's G an optimizer of its own.
        "g_lr": one_optimizer and (c.g_lr or c.lr) != c.lr,
        "ema": c.ema is not None,
        "ema_scope": c.ema_scope if c.ema is not None else None,
    }


def changed_checkpoint_settings(saved, config):
    """`[(setting, saved value, new value)]` for each setting the two
    configs' checkpoints differ in.

    A setting that differs only through another (`body` follows `arch`) is
    left out; where that leaves nothing (`g_lr` left alone while `lr`
    changed), the part of the setting that matters is given instead.
    """
    before, after = checkpoint_settings(saved), checkpoint_settings(config)
    differing = [name for name in before if before[name] != after[name]]
    typed = [
        (name, getattr(saved, name), getattr(config, name))
        for name in differing
        if getattr(saved, name) != getattr(config, name)
    ]
    return typed or [(n, before[n], after[n]) for n in differing]


def check_resumable(saved, config, out):
    """Raises `SettingsChanged` naming each setting (and both values) in
    which `config` cannot continue the checkpoint `saved` trained."""
    changed = changed_checkpoint_settings(saved, config)
    if not changed:
        return
    differences = ", ".join(
        f"`{name}` {_shown(old)} -> {_shown(new)}" for name, old, new in changed
    )
    raise SettingsChanged(
        f"cannot resume {out} with other model settings ({differences}): "
        "its checkpoint holds the run's own. Drop these to continue the "
        "run, or choose another `out` for a new one."
    )


def _shown(value):
    return "unset" if value is None else json.dumps(value).strip('"')
