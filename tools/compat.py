"""Builds fresh venvs at kgan's version floors and newest, runs the fast tier.

Run it whenever a floor in setup.py changes (it is not part of CI: each leg
downloads and installs TensorFlow and JAX, minutes per leg):

    python tools/compat.py                 # every leg
    python tools/compat.py --legs floor    # one leg

Each leg makes a venv under --work with the leg's Python (from pyenv),
installs `.[test]` with the leg's pins, then runs, stopping at the first
failure: `import kgan`, a 4-step `train_mnist.py`, the TensorFlow fast tier
and the JAX fast tier. It prints one table row per leg; paste the table
into the README's "Supported versions".
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]

# name -> (Python version, pip pins, whether to run the test tiers). The
# floor leg pins what setup.py declares as the oldest; the others let pip
# resolve; the middle Python only installs and trains (the tiers run on the
# oldest and newest).
LEGS = {
    "floor": (
        "3.11",
        [
            "keras==3.15.0",
            "tensorflow==2.18.1",
            "jax==0.5.3",
            "jaxlib==0.5.3",
        ],
        True,
    ),
    "python3.12": ("3.12", [], False),
    "newest": ("3.13", [], True),
}

TINY_RUN = [
    "train_mnist.py", "--steps", "4", "--base-channels", "8", "--z-dim",
    "16", "--batch-size", "8", "--sample-every", "4", "--checkpoint-every",
    "4",
]  # fmt: skip


def python_for(version):
    """The newest pyenv interpreter of `version` (e.g. "3.11")."""
    root = subprocess.run(
        ["pyenv", "root"], capture_output=True, text=True, check=True
    ).stdout.strip()
    found = sorted(
        pathlib.Path(root, "versions").glob(f"{version}.*"),
        key=lambda p: [int(x) for x in p.name.split(".") if x.isdigit()],
    )
    if not found:
        sys.exit(f"compat: no pyenv Python {version}; install it first")
    return found[-1] / "bin" / "python"


def step(name, command, log, cwd, **kwargs):
    started = time.time()
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(map(str, command))}\n")
        out.flush()
        code = subprocess.call(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, **kwargs
        )
    return code == 0, f"{name} {time.time() - started:.0f}s"


def snapshot(work):
    """A copy of the working tree, so edits during a run do not leak in."""
    source = work / "src"
    shutil.rmtree(source, ignore_errors=True)
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.split()  # fmt: skip
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    return source


def run_leg(name, work, source):
    version, pins, tiers = LEGS[name]
    venv = work / name
    shutil.rmtree(venv, ignore_errors=True)
    log = work / f"{name}.log"
    log.unlink(missing_ok=True)
    subprocess.run([python_for(version), "-m", "venv", venv], check=True)
    python = str(venv / "bin" / "python")
    # The user's default environment: kgan's quiet start is part of what
    # is checked (the mnist step's stderr is in the log).
    env = dict(os.environ)
    for variable in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL"):
        env.pop(variable, None)
    shutil.rmtree(work / f"{name}-run", ignore_errors=True)
    with_out = ["--out", str(work / f"{name}-run")]
    # Each leg's tests import the snapshot's kgan (pytest runs from it).
    steps = [
        ("install", [python, "-m", "pip", "install", "-q", ".[test]", *pins]),
        ("import", [python, "-c", "import kgan"]),
        ("mnist", [python, *TINY_RUN, *with_out]),
        (
            "tf-fast",
            [python, "-m", "pytest", "-q", "-n", "2", "-m", "not slow",
             "-p", "no:cacheprovider"],
        ),
        (
            "jax-fast",
            [python, "-m", "pytest", "-q", "-n", "2", "-m",
             "jax and not slow", "-p", "no:cacheprovider"],
        ),
    ]  # fmt: skip
    if not tiers:
        steps = steps[:3]
    done = []
    for step_name, command in steps:
        step_env = dict(env)
        if step_name == "jax-fast":
            step_env["KERAS_BACKEND"] = "jax"
        ok, said = step(step_name, command, log, source, env=step_env)
        done.append(said if ok else f"{said} FAILED (see {log})")
        if not ok:
            break
    versions = subprocess.run(
        [python, "-c", "import sys, keras, tensorflow as tf, jax; "
         "print(f'Python {sys.version.split()[0]}, Keras {keras.__version__},"
         " TensorFlow {tf.__version__}, JAX {jax.__version__}')"],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    return versions or f"Python {version}", done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", nargs="+", choices=LEGS, default=list(LEGS))
    parser.add_argument(
        "--work", type=pathlib.Path, default=pathlib.Path("/tmp/kgan-compat")
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    source = snapshot(args.work)
    rows = [run_leg(name, args.work, source) for name in args.legs]
    print("| versions | steps |")
    print("|---|---|")
    for versions, done in rows:
        print(f"| {versions} | {'; '.join(done)} |")
    if any("FAILED" in step for _, done in rows for step in done):
        sys.exit(1)


if __name__ == "__main__":
    main()
