"""The scripts' flags, built from the `RunConfig` declarations.

Every run setting's flag, help, group, choices and bounds come from its
field (`kgan.recipes.settings.setting`); this module only turns them into
argparse. The few flags that are not run settings (the placement of the
run, `--preset`) are declared here.
"""

import argparse
import dataclasses
import sys

from kgan import distribution
from kgan.recipes import RUN_PRESETS, RunConfig, presets
from kgan.recipes import settings as s


class Parser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` that also records which flags the command
    line typed (`args.typed`, a set of dests): a typed flag that cannot
    apply is refused instead of ignored, and on `--resume` the typed flags
    win over the run's saved settings. Abbreviated flags are off, so a
    typed flag is always spelled out."""

    def __init__(self, **kwargs):
        self.flag_actions = []  # before argparse adds --help
        super().__init__(allow_abbrev=False, **kwargs)

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        self.flag_actions.append(action)
        return action

    def add_argument_group(self, *args, **kwargs):
        group = super().add_argument_group(*args, **kwargs)
        add = group.add_argument

        def add_argument(*args, **kwargs):  # recorded like the parser's
            action = add(*args, **kwargs)
            self.flag_actions.append(action)
            return action

        group.add_argument = add_argument
        return group

    def parse_args(self, args=None, namespace=None):
        argv = sys.argv[1:] if args is None else [str(a) for a in args]
        parsed = super().parse_args(argv, namespace)
        tokens = argv[: argv.index("--")] if "--" in argv else argv
        parsed.typed = {
            action.dest
            for action in self.flag_actions
            for option in action.option_strings
            for token in tokens
            if token == option or token.startswith(option + "=")
        }
        return parsed


class HelpFormatter(argparse.HelpFormatter):
    """Each flag's help, then its default once (none for None or off)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
            # `--no-x` sets a constant; its setting's default is on `--x`.
            or (action.nargs == 0 and not isinstance(default, bool))
        ):
            return text
        return f"{text} (default: %(default)s)"


def typed(args, name):
    """True if the user gave the flag of `name` on the command line."""
    return name in getattr(args, "typed", set())


def value_type(field):
    """argparse type of a setting: its kind, checked against its
    declaration (a bad value is a usage error that says why)."""
    kind = s.kind_of(RunConfig, field)
    words = field.metadata["words"]

    def parse(text):
        if text in words:
            return text
        try:
            value = kind(text)
        except ValueError:
            bounds = s.describe_bounds(kind, field.metadata)
            raise argparse.ArgumentTypeError(
                f"must be {bounds}, got {text}"
            ) from None
        problem = s.check_value(RunConfig, field, value)
        if problem:
            raise argparse.ArgumentTypeError(problem.split("` ", 1)[1])
        return value

    parse.__name__ = kind.__name__  # argparse's "invalid int value"
    return parse


def flag_of(field):
    """The flag that sets the setting on a command line."""
    flag = field.metadata["flag"]
    return (
        flag if isinstance(flag, str) else "--" + field.name.replace("_", "-")
    )


def flag_names():
    """`{setting: its flag}` for every run setting."""
    return {f.name: flag_of(f) for f in dataclasses.fields(RunConfig)}


def dest_of(name):
    """The argparse dest of the setting `name`'s flag."""
    field = {f.name: f for f in dataclasses.fields(RunConfig)}[name]
    return flag_of(field).lstrip("-").replace("-", "_")


def common_parser(description, exclude=(), **defaults):
    """The flags both scripts share, grouped by topic; `defaults` are the
    script's own defaults (`steps=10000`, ...), `exclude` the settings it
    has no flag for (train_mnist.py's fixed image size)."""
    parser = Parser(description=description, formatter_class=HelpFormatter)
    groups = {name: parser.add_argument_group(name) for name in s.GROUPS}
    for field in dataclasses.fields(RunConfig):
        if field.metadata["flag"] is True and field.name not in exclude:
            _add_setting(groups[field.metadata["group"]], field, defaults)
    groups[s.DATA].add_argument(
        "--preset", choices=tuple(RUN_PRESETS),
        help="start from one of Su's O-GAN scripts (flags typed win; "
        "docs/SCRIPTS.md lists them)",
    )  # fmt: skip
    scale = groups[s.SCALE_OUT]
    scale.add_argument(
        "--distribution", choices=distribution.MODES, default="none",
        help="every local GPU (TensorFlow) or device of every process "
        "(JAX); --batch-size is global",
    )  # fmt: skip
    scale.add_argument(
        "--join-timeout", type=int, default=120, metavar="SECONDS",
        help="multi-process runs: how long a process waits for the others",
    )  # fmt: skip
    scale.add_argument(  # the flag's old name, kept working
        "--strategy", choices=("default", "mirrored"), help=argparse.SUPPRESS
    )
    parser.set_defaults(**defaults)
    return parser


def _add_setting(group, field, defaults):
    meta = field.metadata
    default = defaults.get(field.name, field.default)
    options = {"help": meta["help"].replace("%", "%%"), "default": default}
    if s.kind_of(RunConfig, field) is bool:
        # `--no-x` where x can be on before the command line says so.
        negatable = default is not False or any(
            field.name in entry["settings"] for entry in RUN_PRESETS.values()
        )
        options["action"] = (
            argparse.BooleanOptionalAction if negatable else "store_true"
        )
    else:
        options["type"] = value_type(field)
        options["metavar"] = meta["metavar"]
        choices = s.choices_of(field)
        if choices is not None:
            options["choices"] = choices
            options["metavar"] = options["metavar"] or "{%s}" % ",".join(
                map(str, choices)
            )
    group.add_argument(flag_of(field), **options)
    if meta["off"]:
        off = group.add_argument(
            meta["off"], dest=field.name, action="store_const", const=None,
            help=f"no {field.name.replace('_', ' ')}",
        )  # fmt: skip
        off.default = argparse.SUPPRESS  # the setting's default stands


def parse(parser, argv=None):
    """Parses `argv`; with `--preset`, the preset's settings become the
    defaults first, so the flags typed as well win. Settings the script
    has no flag for (the image size of train_mnist.py) are kept in
    `args.preset_unused` for `run_config` to report."""
    known, _ = parser.parse_known_args(argv)
    unused = {}
    if known.preset is not None:
        settings = presets.preset(known.preset)
        unused = {k: v for k, v in settings.items() if not hasattr(known, k)}
        parser.set_defaults(
            **{k: v for k, v in settings.items() if k not in unused}
        )
    args = parser.parse_args(argv)
    args.preset_unused = unused
    return args
