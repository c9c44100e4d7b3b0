"""Writes samples of a saved generator as PNG files, for standard FID tools.

    python -m kgan.export_samples runs/mnist/generator.keras --out samples \\
        --count 10000 --seed 0     # or: kgan-export-samples ...

Then, with the field's tools (kgan does not install them):

    pip install clean-fid        # python: fid.compute_fid("samples", REAL)
    pip install torch-fidelity   # fidelity --fid --input1 samples --input2 REAL

kgan's own Inception FID is comparable with itself, not with published
FIDs; these tools' numbers are. See `kgan.sampling.export_samples`.
"""

import argparse
import os

os.environ.setdefault("KGAN_QUIET_START", "1")

import kgan  # noqa: E402,F401  (registers kgan's layers for loading)
from kgan import cli  # noqa: E402
from kgan.sampling import export_samples  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m kgan.export_samples",
        description="Write N samples of a generator.keras as PNG files "
        "(for clean-fid or torch-fidelity).",
    )
    parser.add_argument("generator", help="a generator.keras saved by kgan")
    parser.add_argument("--out", required=True, help="folder for the PNGs")
    parser.add_argument(
        "--count", type=int, default=10000, help="images (default 10000)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of z (default 0)"
    )
    parser.add_argument(
        "--truncation",
        type=float,
        metavar="PSI",
        help="StyleGAN psi, or BigGAN's threshold on z for other generators",
    )
    parser.add_argument(
        "--label",
        type=int,
        metavar="K",
        help="conditional generator: this class only (default all equally)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into an --out that already holds PNGs",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isfile(args.generator):
        cli.fail(f"no generator at {args.generator} (a generator.keras path)")
    if (
        os.path.isdir(args.out)
        and any(name.endswith(".png") for name in os.listdir(args.out))
        and not args.overwrite
    ):
        cli.fail(
            f"{args.out} already holds PNG files; samples of two generators "
            "would mix in one FID. Pick an empty --out or pass --overwrite."
        )
    import keras

    try:
        generator = keras.saving.load_model(args.generator, compile=False)
    except Exception as error:
        cli.fail(f"could not load {args.generator}: {error}".splitlines()[0])
    try:
        paths = export_samples(
            generator,
            args.out,
            args.count,
            labels=args.label,
            truncation=args.truncation,
            seed=args.seed,
            batch_size=args.batch_size,
        )
    except ValueError as error:
        cli.fail(str(error).replace("`labels`", "--label"))
    except OSError as error:
        cli.fail(f"could not write to {args.out}: {error}", code=1)
    print(f"wrote {len(paths)} images to {args.out}")


def run():
    """The `kgan-export-samples` command: the exit status of `main`."""
    return cli.outcome(main)[0]


if __name__ == "__main__":
    raise SystemExit(run())
