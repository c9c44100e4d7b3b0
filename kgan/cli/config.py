"""Parsed flags -> `kgan.recipes.RunConfig`."""

import dataclasses

from kgan.cli.flags import typed
from kgan.cli.messages import as_flags, fail, say
from kgan.recipes import ConfigError, RunConfig

FIELDS = tuple(field.name for field in dataclasses.fields(RunConfig))


def run_config(args, image_size=None, channels=3, num_classes=None):
    """The `RunConfig` of the parsed flags, for images of `image_size`
    (default `--image-size`) with `channels`; a combination that cannot
    work raises the script's one-line `Failure`, in flag names."""
    values = {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}
    values["image_size"] = image_size or args.image_size
    values["channels"] = channels
    values["num_classes"] = num_classes
    for name, value in getattr(args, "preset_unused", {}).items():
        say(
            f"kgan: --preset {args.preset}: {name}={value} does not apply "
            f"to this script (it trains {values['image_size']} px images)"
        )
    try:
        return RunConfig(**values)
    except ConfigError as error:
        fail(as_flags(str(error)))


def learning_rates(args):
    """`(d_lr, g_lr)` the user typed (None where not), which replace a
    resumed checkpoint's rates."""
    d_lr = args.lr if typed(args, "lr") else None
    g_lr = args.g_lr if typed(args, "g_lr") else d_lr
    return d_lr, g_lr
