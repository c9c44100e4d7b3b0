"""Resuming a run: the settings it saved, and those its checkpoint fixes.

A checkpoint holds the trainer's variables: both networks, the optimizers'
slots and the layers' random states. A resumed run may change how it
trains on (steps, learning rate, intervals, ...), but not what those
variables are: each setting that shapes them says so in its declaration
(`checkpoint=`: the setting itself, or the part of it that matters;
tests/test_run_folder.py builds the trainers and checks each against the
arrays of their checkpoints).
"""

import dataclasses
import json
import os

from kgan.recipes.config import RunConfig
from kgan.recipes.errors import ConfigError, SettingsChanged

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
    """`{setting: what of it the checkpoint depends on}`, from each
    setting's declaration (`checkpoint=`)."""
    parts = {}
    for field in dataclasses.fields(config):
        rule = field.metadata.get("checkpoint")
        if rule is True:
            parts[field.name] = getattr(config, field.name)
        elif callable(rule):
            parts[field.name] = rule(config)
    return parts


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
