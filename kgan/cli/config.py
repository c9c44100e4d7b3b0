"""Parsed flags -> `kgan.recipes.RunConfig`."""

import dataclasses
import math
import os

from kgan.cli.flags import typed
from kgan.cli.messages import as_flags, fail, say
from kgan.recipes import ConfigError, RunConfig, preset, saved_config

FIELDS = tuple(field.name for field in dataclasses.fields(RunConfig))
# Settings a script sets from a flag of another name.
SCRIPT_FLAGS = {"num_classes": "conditional"}
# Settings of this command itself, never taken from the saved run.
THIS_COMMAND = ("out", "resume")


def run_config(args, image_size=None, channels=3, num_classes=None):
    """The `RunConfig` of the parsed flags, for images of `image_size`
    (default `--image-size`) with `channels`; a combination that cannot
    work raises the script's one-line `Failure`, in flag names.

    With `--resume`, the run's own settings (`--out`/config.json) are the
    base and only the flags typed now replace them, so a resume needs no
    more than `--out DIR --resume`.
    """
    values = {
        name: getattr(args, name) for name in FIELDS if hasattr(args, name)
    }
    values["image_size"] = image_size or args.image_size
    values["channels"] = channels
    values["num_classes"] = num_classes
    saved = saved_settings(args)
    if saved is not None:
        values = resumed_settings(args, values, saved)
    else:
        values = arch_for_growth(args, values)
        for name, value in getattr(args, "preset_unused", {}).items():
            say(
                f"kgan: --preset {args.preset}: {name}={value} does not apply "
                f"to this script (it trains {values['image_size']} px images)"
            )
    try:
        config = RunConfig(**values)
    except ConfigError as error:
        fail(as_flags(str(error)))
    # A resumed run keeps the momentum it chose when it started.
    return config if saved is not None else ema_for_growth(args, config)


def arch_for_growth(args, values):
    """`values` with `arch` dcgan when an unconditional `--progressive`
    run meets a default architecture that has no progressive form
    (train_mnist.py's default, SELF-MOD): the progressive DCGAN form is
    PGGAN's own. The run says so; a typed `--arch` (or a preset's) is
    kept, and refused if it cannot grow."""
    chosen = typed(args, "arch") or (
        typed(args, "preset") and "arch" in preset(args.preset)
    )
    # A conditional run has only the StyleGAN form to grow: RunConfig's
    # refusal names it.
    if not values.get("progressive") or chosen or values.get("num_classes"):
        return values
    if values.get("arch") in ("dcgan", "stylegan"):
        return values
    say(
        f"kgan: --progressive: --arch dcgan (PGGAN's form) instead of the "
        f"default {values['arch']}, which has no progressive form; type "
        "--arch stylegan for the StyleGAN form"
    )
    return {**values, "arch": "dcgan"}


def ema_for_growth(args, config):
    """A progressive run's weight EMA, fitted to its stages.

    Each stage trains its new layers from their initial values, so an EMA
    whose half-life is long next to a stage averages in the untrained
    layers: with `--steps 1500` (375-step stages) the default 0.999 (half-
    life ~693 steps) left the StyleGAN form's averaged generator at
    MNIST-FID ~736 where its trained weights gave ~82. A momentum the
    user did not choose is lowered to a half-life of an eighth of a stage
    (the run says so); a chosen one is kept, with a warning when its
    half-life exceeds half a stage.
    """
    if not config.progressive or config.ema is None:
        return config
    stage_steps = config.progressive_schedule[0]
    half_life = math.log(0.5) / math.log(config.ema)
    chosen = typed(args, "ema") or (
        typed(args, "preset") and "ema" in preset(args.preset)
    )
    if chosen:
        if half_life > stage_steps / 2:
            say(
                f"kgan: warning: --ema {config.ema} has a half-life of "
                f"{half_life:.0f} steps, over half of a {stage_steps}-step "
                "stage of --progressive: the averaged generator mixes in "
                "layers from before they trained"
            )
        return config
    fitted = 0.5 ** (8 / stage_steps)
    if fitted >= config.ema:
        return config
    say(
        f"kgan: --progressive: EMA momentum {fitted:.4f} (a half-life of "
        f"{stage_steps / 8:.0f} steps, an eighth of a {stage_steps}-step "
        f"stage) instead of {config.ema}; type --ema to choose"
    )
    return config.replace(ema=fitted)


def saved_settings(args):
    """The settings in `--out`/config.json when resuming, else None (a
    damaged file is reported and the command line used instead)."""
    if not args.resume:
        return None
    try:
        saved = saved_config(args.out)
    except ConfigError as error:
        say(
            f"kgan: warning: {as_flags(str(error))}; the settings come "
            "from this command line"
        )
        return None
    return None if saved is None else dataclasses.asdict(saved)


def resumed_settings(args, values, saved):
    """`saved` with the settings whose flags were typed now; says which."""
    typed_now = {
        name for name in FIELDS if typed(args, SCRIPT_FLAGS.get(name, name))
    }
    if typed(args, "preset"):
        typed_now |= set(preset(args.preset)) & set(FIELDS)
    merged, changed = dict(values), []
    for name in FIELDS:
        if name in THIS_COMMAND:
            continue
        if name in typed_now and values[name] != saved[name]:
            changed.append(name)
        elif name not in typed_now:
            merged[name] = saved[name]
    path = os.path.join(args.out, "config.json")
    say(
        f"kgan: resuming with the settings of {path}"
        + (
            "; from the command line: "
            + ", ".join(
                f"{as_flags(f'`{SCRIPT_FLAGS.get(n, n)}`')} {merged[n]}"
                for n in changed
            )
            if changed
            else ""
        )
    )
    return merged


def learning_rates(args):
    """`(d_lr, g_lr)` the user typed (None where not), which replace a
    resumed checkpoint's rates."""
    d_lr = args.lr if typed(args, "lr") else None
    g_lr = args.g_lr if typed(args, "g_lr") else d_lr
    return d_lr, g_lr
