"""Running the repository's scripts from tests: in process or in a fresh
Python process that imports this checkout's kgan, and reading what a run
left in its folder."""

import contextlib
import csv
import importlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import keras

ROOT = Path(__file__).resolve().parents[2]


def script_module(name):
    """Imports the top-level script `name` (e.g. "train_mnist")."""
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT))


def run_python(script, *args, timeout=600):
    """Runs `script` in a fresh process (for settings that must come
    before TensorFlow or JAX start); returns the CompletedProcess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, check=False, env=env,
    )  # fmt: skip


@contextlib.contextmanager
def script_stops():
    """The block must stop the way a script does: its error goes through
    `kgan.cli.outcome`, which prints the one line and gives the exit code
    (`stop.code`, `stop.at_once`)."""
    from kgan import cli

    stop = types.SimpleNamespace(code=None, at_once=None)
    try:
        yield stop
    except Exception as error:  # noqa: BLE001 - outcome sorts them

        def rethrow(argv, error=error):
            raise error

        stop.code, stop.at_once = cli.outcome(rethrow)
    else:
        raise AssertionError("the script went on instead of stopping")


def h5_arrays(path):
    """Every array in the HDF5 file `path` (a `.weights.h5`), by name."""
    import h5py

    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, item: (
                arrays.__setitem__(name, item[()])
                if isinstance(item, h5py.Dataset)
                else None
            )
        )
    return arrays


# -- train_mnist.py in subprocesses, on this backend ------------------------
# A train_mnist.py run small enough for the fault tests' many subprocesses.
TINY = [
    "--base-channels", "8", "--z-dim", "16", "--batch-size", "8",
    "--sample-every", "2", "--checkpoint-every", "2",
]  # fmt: skip

FAULTS = Path(__file__).resolve().parent / "faults.py"


def mnist_environment():
    return {
        **os.environ,
        "KERAS_BACKEND": keras.backend.backend(),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": str(ROOT),
    }


def mnist_command(*args, fault=None):
    script = [str(ROOT / "train_mnist.py"), *map(str, args)]
    if fault:
        script = [str(FAULTS), fault, *script]
    return [sys.executable, *script]


def start_mnist(*args, fault=None, **kwargs):
    return subprocess.Popen(
        mnist_command(*args, fault=fault), cwd=ROOT, env=mnist_environment(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )  # fmt: skip


def finish(process, timeout=300):
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def run_mnist(*args, fault=None, **kwargs):
    return finish(start_mnist(*args, fault=fault, **kwargs))


def ok(result):
    code, stdout, stderr = result
    assert code == 0, stdout[-2000:] + stderr[-3000:]
    return stdout


def one_line_error(result, code):
    """The run ended with `code` and exactly one error line, no traceback;
    returns that line."""
    returncode, stdout, stderr = result
    assert returncode == code, stdout[-2000:] + stderr[-3000:]
    assert "Traceback" not in stderr and "Segmentation" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, stderr[-3000:]
    assert errors[0].startswith("error: ")
    return errors[0]


def steps_in_history(out):
    with open(out / "history.csv", newline="") as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def checkpoint_step(out):
    return json.loads((out / "checkpoint" / "checkpoint.json").read_text())[
        "step"
    ]


def leftovers(out):
    return sorted(p.name for p in out.rglob(".tmp-*"))
