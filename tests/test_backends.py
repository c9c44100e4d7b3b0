"""The layers, builders and trainers run under the JAX backend too."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

import kgan

SCRIPT = os.path.join(os.path.dirname(__file__), "helpers", "backend_smoke.py")


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
    assert formulation == "fused"  # "auto" on JAX: kgan's stateless step
    assert int(moved) >= int(total) - 1 and finite == "True"
    assert {"d_loss", "g_loss", "real_score", "fake_score"} <= set(
        keys.split(",")
    )
    assert re.search(r"ogan formulation=fused z_corr=\S+", results)
