"""What kgan runs on, checked at import so a wrong environment is one line.

This module must stay importable by any Python 3 (no `X | Y` annotations,
no f-string tricks past 3.6) and import nothing heavy: it runs before
kgan imports Keras, so an old Python gets kgan's message, not a
`TypeError` from an annotation further in.
"""

import os
import re
import sys

# The floors setup.py declares; tools/compat.py tests them in a fresh venv.
MIN_PYTHON = (3, 11)  # Keras 3.15 needs Python 3.11
MIN_KERAS = (3, 15)  # keras.optimizers.MultiOptimizer (kgan's TTUR)
BACKENDS = ("tensorflow", "jax")


class UnsupportedEnvironment(ImportError):
    """kgan cannot run here; the message names what is needed."""


def version_tuple(version):
    """`"3.15.0rc1"` -> `(3, 15, 0)`: the leading numbers only."""
    numbers = re.match(r"(\d+(?:\.\d+)*)", version)
    return tuple(int(n) for n in numbers.group(1).split(".")) if numbers else ()


def _dotted(version):
    return ".".join(str(n) for n in version)


def check_python(version_info=None):
    """Raises `UnsupportedEnvironment` on a Python older than MIN_PYTHON."""
    version_info = tuple(version_info or sys.version_info)
    if version_info[:2] < MIN_PYTHON:
        raise UnsupportedEnvironment(
            "kgan needs Python {} or newer (Keras 3.15 does); this is "
            "Python {}. Install kgan in a Python 3.11-3.13 environment.".format(
                _dotted(MIN_PYTHON), _dotted(version_info[:3])
            )
        )


def check_before_keras():
    """The checks that must run before Keras is imported: the Python, and
    the backend `KERAS_BACKEND` asks for (Keras' own import fails with a
    traceback when that backend's package is missing)."""
    check_python()
    if "KERAS_BACKEND" in os.environ:
        check_backend(os.environ["KERAS_BACKEND"])


def check_keras(keras_version, backend):
    """Raises `UnsupportedEnvironment` on an old Keras or another backend."""
    if version_tuple(keras_version)[:2] < MIN_KERAS:
        raise UnsupportedEnvironment(
            "kgan needs Keras {} or newer (for keras.optimizers."
            "MultiOptimizer); found Keras {}. Upgrade with: pip install -U "
            "'keras>={}'".format(
                _dotted(MIN_KERAS), keras_version, _dotted(MIN_KERAS)
            )
        )
    check_backend(backend)


def check_backend(backend):
    """Raises `UnsupportedEnvironment` unless `backend` is one kgan runs on.

    Called with `KERAS_BACKEND` before Keras is imported (Keras' own import
    fails when that backend's package is missing) and with the backend
    Keras chose after.
    """
    if backend not in BACKENDS:
        raise UnsupportedEnvironment(
            "kgan runs on the Keras backends {}; this Keras uses {!r}. Set "
            "KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax before importing "
            "kgan.".format(" and ".join(BACKENDS), backend)
        )


def no_nvidia_device():
    """True when this machine has no NVIDIA device node (no CUDA to try)."""
    return not os.path.exists("/dev/nvidiactl") and not any(
        name.startswith("nvidia") for name in _dev_names()
    )


def _dev_names():
    try:
        return os.listdir("/dev")
    except OSError:
        return []
