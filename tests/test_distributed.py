"""Under MirroredStrategy, one step on 2 replicas equals one on 1 replica."""

import os
import re
import subprocess
import sys

import pytest

import kgan

pytestmark = pytest.mark.slow

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_step.py")


@pytest.mark.parametrize(
    "loss,variant",
    [
        ("hinge", "fused"),
        ("hinge", "literal"),
        ("wgan", "reversal"),
        ("hinge", "fused+ttur+ema"),
        ("hinge", "alternating"),
    ],
)
def test_two_replicas_match_one_with_the_same_global_batch(loss, variant):
    # Logical devices must be set before TensorFlow starts: a fresh process.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(kgan.__file__))
    out = subprocess.run(
        [sys.executable, SCRIPT, loss, variant],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    match = re.search(r"RESULT moved=(\S+) diff=(\S+)", out.stdout)
    assert match, out.stderr[-3000:]
    moved, diff = float(match.group(1)), float(match.group(2))
    assert moved > 1e-4  # the step changed the weights
    assert diff < 1e-6 * max(1.0, moved) + 1e-7
