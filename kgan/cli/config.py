"""Parsed flags -> `kgan.recipes.RunConfig`."""

import dataclasses

from kgan.cli.flags import dest_of, typed
from kgan.cli.messages import as_flags, fail, say
from kgan.recipes import (
    ConfigError,
    RunConfig,
    config_path,
    preset,
    saved_config,
    setting_names,
)

# Settings of this command itself, never taken from the saved run.
THIS_COMMAND = ("out", "resume")


def run_config(args, image_size=None, channels=None, num_classes=None):
    """The `RunConfig` of the parsed flags and the settings the script
    fixes (`image_size=32, channels=1` for MNIST; None: the flag's, or the
    library's default); a value or combination
    that cannot work raises the script's one-line `Failure`, in flag
    names. The run policies' notes ("auto" settings) are said.

    With `--resume`, the run's own settings (`--out`/config.json) are the
    base and only the flags typed now replace them, so a resume needs no
    more than `--out DIR --resume`.
    """
    values = {
        name: getattr(args, name)
        for name in setting_names()
        if hasattr(args, name)
    }
    fixed = dict(
        image_size=image_size, channels=channels, num_classes=num_classes
    )
    values.update({k: v for k, v in fixed.items() if v is not None})
    saved = saved_settings(args)
    if saved is not None:
        values = resumed_settings(args, values, saved)
    else:
        for name, value in getattr(args, "preset_unused", {}).items():
            say(
                f"kgan: --preset {args.preset}: {name}={value} does not apply "
                f"to this script (it trains {values['image_size']} px images)"
            )
    try:
        config = RunConfig(**values)
    except ConfigError as error:
        fail(as_flags(str(error)))
    for note in config.notes:
        say(as_flags(note))
    return config


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
    typed_now = {name for name in values if typed(args, dest_of(name))}
    if typed(args, "preset"):
        typed_now |= set(preset(args.preset)) & set(values)
    merged, changed = dict(values), []
    for name in saved:
        if name in THIS_COMMAND:
            continue
        if name in typed_now and values.get(name) != saved[name]:
            changed.append(name)
        elif name not in typed_now:
            merged[name] = saved[name]
    say(
        f"kgan: resuming with the settings of {config_path(args.out)}"
        + (
            "; from the command line: "
            + ", ".join(as_flags(f"`{n}` {merged[n]}") for n in changed)
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
