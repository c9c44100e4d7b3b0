"""kgan refuses an environment it does not run on in one line, and its
commands start quietly."""

import os
import subprocess
import sys

import pytest
from helpers.script_helpers import ROOT

from kgan import _environment, _quiet
from kgan._environment import UnsupportedEnvironment


def test_version_floors_and_backends_are_one_line_each():
    _environment.check_python((3, 11, 0))
    _environment.check_keras("3.15.0", "tensorflow")
    _environment.check_keras("3.16.0rc1", "jax")
    with pytest.raises(UnsupportedEnvironment) as old_python:
        _environment.check_python((3, 10, 13))
    with pytest.raises(UnsupportedEnvironment) as old_keras:
        _environment.check_keras("3.12.4", "tensorflow")
    with pytest.raises(UnsupportedEnvironment) as torch:
        _environment.check_keras("3.15.1", "torch")
    assert "Python 3.11 or newer" in str(old_python.value)
    assert "this is Python 3.10.13" in str(old_python.value)
    assert "Keras 3.15 or newer" in str(old_keras.value)
    assert "found Keras 3.12.4" in str(old_keras.value)
    assert "pip install -U 'keras>=3.15'" in str(old_keras.value)
    assert "tensorflow and jax" in str(torch.value)
    assert "'torch'" in str(torch.value)
    for error in (old_python, old_keras, torch):
        assert "\n" not in str(error.value)


def test_setup_declares_the_floors_the_import_checks():
    setup = (ROOT / "setup.py").read_text()
    python = ".".join(map(str, _environment.MIN_PYTHON))
    keras = ".".join(map(str, _environment.MIN_KERAS))
    assert f'python_requires=">={python}"' in setup
    assert f'"keras>={keras}"' in setup


def _import_kgan(code, **env):
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, timeout=300, env=environment,
    )  # fmt: skip


@pytest.mark.slow
def test_import_refuses_an_old_keras_and_another_backend():
    old = _import_kgan(
        "import keras; keras.__version__ = '3.12.4'\n"
        "try:\n import kgan\n"
        "except ImportError as e:\n print(type(e).__name__, e)"
    )
    assert old.stdout.startswith("UnsupportedEnvironment kgan needs Keras")
    # Refused before Keras is imported: torch is not even installed here.
    torch = _import_kgan("import kgan", KERAS_BACKEND="torch")
    assert torch.returncode != 0
    assert (
        "UnsupportedEnvironment: kgan runs on the Keras backends"
        in (torch.stderr.strip().splitlines()[-1])
    )
    assert "No module named 'torch'" not in torch.stderr


@pytest.mark.slow
def test_scripts_say_an_unsupported_environment_in_one_line():
    script = ROOT / "train_mnist.py"
    result = subprocess.run(
        [sys.executable, str(script), "--steps", "1"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "KERAS_BACKEND": "torch"},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "train_mnist.py: kgan runs on the Keras backends tensorflow and jax;"
        " this Keras uses 'torch'. Set KERAS_BACKEND=tensorflow or "
        "KERAS_BACKEND=jax before importing kgan."
    ]


def _pyenv_python(version):
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(
        p
        for p in (
            os.path.join(root, "versions", name, "bin", "python")
            for name in os.listdir(os.path.join(root, "versions"))
            if name.startswith(version + ".")
        )
        if os.path.exists(p)
    ) if os.path.isdir(os.path.join(root, "versions")) else []  # fmt: skip
    return found[-1] if found else None


@pytest.mark.slow
def test_an_old_python_gets_one_line_not_a_syntax_error():
    python = _pyenv_python("3.10") or _pyenv_python("3.9")
    if python is None:
        pytest.skip("no Python 3.9 or 3.10 under pyenv on this machine")
    result = subprocess.run(
        [python, str(ROOT / "train_mnist.py")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("train_mnist.py: kgan needs Python 3.11 or newer")


def test_the_quiet_start_drops_only_tensorflow_s_start_up_lines(capfd):
    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called "
        "are written to STDERR",
        "I0000 00:00:1796533347.656360    4459 port.cc:153] oneDNN custom "
        "operations are on.",
        "I0000 00:00:1796533347.656608    4459 cudart_stub.cc:31] Could not "
        "find cuda drivers on your machine, GPU will not be used.",
        "2026-12-06 05:05:44.836037: E external/local_xla/xla/stream_executor"
        "/cuda/cuda_fft.cc:479] Unable to register cuFFT factory: x",
    ]
    kept = [
        "E0000 00:00:1796533351.997596    4459 some_op.cc:52] a real error",
        "Traceback (most recent call last):",
        "ModuleNotFoundError: No module named 'x'",
    ]
    capfd.readouterr()
    with _quiet.start_up_lines_filtered():
        lines = noise[:2] + kept[:1] + noise[2:] + kept[1:]
        os.write(2, ("\n".join(lines) + "\n").encode())
    assert capfd.readouterr().err.splitlines() == kept


def test_kgan_commands_ask_for_the_quiet_start(monkeypatch):
    monkeypatch.delenv(_quiet.ENV, raising=False)
    monkeypatch.setattr(sys, "orig_argv", ["python", "-c", "import kgan"])
    assert not _quiet.requested()
    monkeypatch.setattr(
        sys, "orig_argv", ["python", "-m", "kgan.export_samples", "g.keras"]
    )
    assert _quiet.requested()
    monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "pytest"])
    assert not _quiet.requested()
    monkeypatch.setenv(_quiet.ENV, "1")
    assert _quiet.requested()
