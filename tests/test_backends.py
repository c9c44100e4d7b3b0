"""The layers, builders and trainers run under the JAX backend too."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

import kgan

SCRIPT = os.path.join(os.path.dirname(__file__), "backend_smoke.py")


@pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="JAX is not installed (`pip install .[test]` installs it)",
)
@pytest.mark.slow
def test_jax_backend_builds_and_trains():
    env = dict(os.environ, KERAS_BACKEND="jax")
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(kgan.__file__))
    out = subprocess.run(
        [sys.executable, SCRIPT],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    results = "\n".join(
        line for line in out.stdout.splitlines() if line.startswith("RESULT")
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "backend=jax" in results
    for family in ("dcgan", "resnet", "selfmod", "stylegan",
                   "resnet_conditional", "dcgan_minibatch_std",
                   "resnet_attention"):  # fmt: skip
        assert f"built={family}" in results
    match = re.search(r"onestep formulation=(\w+) moved=(\d+)/(\d+) "
                      r"finite=(\w+) keys=(\S+)", results)  # fmt: skip
    assert match, results
    formulation, moved, total, finite, keys = match.groups()
    assert formulation == "literal"  # Keras' own train_step does the update
    assert int(moved) >= int(total) - 1 and finite == "True"
    assert {"d_loss", "g_loss", "real_score", "fake_score"} <= set(
        keys.split(",")
    )
    assert re.search(r"ogan formulation=literal z_corr=\S+", results)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="JAX is not installed (`pip install .[test]` installs it)",
)
def test_default_mnist_script_runs_on_jax_with_ema_and_reloads(tmp_path):
    """The default run (one-step, generator EMA, sample grids, checkpoints)
    on JAX: EMA sampling then saving used to fail ("Array has been
    deleted")."""
    import keras

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2")
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, os.path.join(root, "train_mnist.py"),
         "--steps", "4", "--batch-size", "16", "--base-channels", "8",
         "--z-dim", "16", "--sample-every", "2", "--checkpoint-every", "2",
         "--out", str(out)],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert os.path.exists(out / "samples")
    generator = keras.models.load_model(out / "generator.keras")
    assert generator.outputs[0].shape[1:] == (32, 32, 1)
