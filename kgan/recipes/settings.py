"""Run settings declared once: a `RunConfig` field carries its help, its
flag group, its choices and bounds, and what a checkpoint makes of it.

`setting(...)` is `dataclasses.field` with that metadata. From it, and
from nothing else, `RunConfig` checks its values (`check_value`), the
scripts build their flags (`kgan.cli.flags`), `--help` groups them, and a
resume knows which settings its checkpoint fixes (`kgan.recipes.resume`).
"""

import dataclasses
import math
import typing

# The flag groups of `--help`, in order.
DATA = "data and output"
MODEL = "model"
LOSS = "loss and trainer"
REGULARISATION = "regularisation and augmentation"
SCHEDULE = "schedule, EMA and precision"
SCALE_OUT = "scale-out"
LOGGING = "logging and checkpoints"
GROUPS = (DATA, MODEL, LOSS, REGULARISATION, SCHEDULE, SCALE_OUT, LOGGING)


def setting(
    default,
    help,
    group,
    *,
    choices=None,
    minimum=None,
    above=None,
    below=None,
    words=(),
    flag=True,
    metavar=None,
    checkpoint=None,
    off=None,
):
    """A `RunConfig` field and everything said about it.

    Args:
        default: the library's default (a script may set its own).
        help: one or two lines for `--help` and the docs.
        group: one of `GROUPS`.
        choices: the allowed values, or a function returning them (to ask
            the registry that owns them, on first use).
        minimum: numbers: the least value allowed.
        above: numbers: values must be greater.
        below: numbers: values must be smaller.
        words: strings a number setting also takes (e.g. `"auto"`).
        flag: False when the scripts have no flag of this name (the value
            comes from the script, or a flag of another name, given here).
        metavar: the flag's value in `--help`.
        checkpoint: what a checkpoint makes of the setting: True if it
            cannot change on `--resume`, a function of the config for the
            part of it that cannot, None if it may change.
        off: a flag that sets the setting to None (e.g. `--no-ema`).
    """
    return dataclasses.field(
        default=default,
        metadata={
            "help": help,
            "group": group,
            "choices": choices,
            "minimum": minimum,
            "above": above,
            "below": below,
            "words": tuple(words),
            "flag": flag,
            "metavar": metavar,
            "checkpoint": checkpoint,
            "off": off,
        },
    )


def choices_of(field):
    """The field's allowed values (asked of their registry), or None."""
    choices = field.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


def kind_of(cls, field):
    """The field's value type, `int`, `float`, `str` or `bool` (its
    annotation without `None` and without the `str` of words)."""
    hint = typing.get_type_hints(cls)[field.name]
    kinds = [k for k in typing.get_args(hint) or (hint,) if k is not type(None)]
    if field.metadata.get("words") and len(kinds) > 1:
        kinds = [k for k in kinds if k is not str]
    return kinds[0]


def check_value(cls, field, value):
    """None when `value` suits the field, else why not (one line naming
    the setting in backticks)."""
    meta, name = field.metadata, field.name
    if value is None or value in meta.get("words", ()):
        if value is None and field.default is not None and not meta["off"]:
            return f"`{name}` must be set, got None"
        return None
    kind = kind_of(cls, field)
    choices = choices_of(field)
    if choices is not None and value not in choices:
        return f"`{name}` must be one of {', '.join(map(str, choices))}, " \
               f"got {value!r}"  # fmt: skip
    if kind is bool:
        return None if isinstance(value, bool) else (
            f"`{name}` must be True or False, got {value!r}"
        )  # fmt: skip
    if kind in (int, float):
        return _check_number(name, value, kind, meta)
    if not isinstance(value, kind):
        return f"`{name}` must be a {kind.__name__}, got {value!r}"
    return None


def _check_number(name, value, kind, meta):
    whole = kind is int
    if isinstance(value, bool) or not isinstance(
        value, int if whole else (int, float)
    ) or (not whole and not math.isfinite(value)):  # fmt: skip
        return f"`{name}` must be {describe_bounds(kind, meta)}, got {value!r}"
    low, high = meta.get("minimum"), meta.get("below")
    above = meta.get("above")
    if (
        (low is not None and value < low)
        or (above is not None and not value > above)
        or (high is not None and not value < high)
    ):
        return f"`{name}` must be {describe_bounds(kind, meta)}, got {value!r}"
    return None


def describe_bounds(kind, meta):
    """`"an integer >= 1"`, `"a number in (0, 1)"`, ..."""
    noun = "an integer" if kind is int else "a number"
    low, above, below = meta.get("minimum"), meta.get("above"), meta["below"]
    if above is not None and below is not None:
        text = f"{noun} in ({above:g}, {below:g})"
    elif above is not None:
        text = f"{noun} > {above:g}"
    elif low is not None and below is not None:
        text = f"{noun} in [{low:g}, {below:g})"
    elif low is not None:
        text = f"{noun} >= {low:g}"
    else:
        text = noun
    words = meta.get("words", ())
    return text + "".join(f" or {w!r}" for w in words)
