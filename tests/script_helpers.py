"""Running the repository's scripts from tests: in process or in a fresh
Python process that imports this checkout's kgan."""

import contextlib
import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
