"""Under MirroredStrategy, one step on 2 replicas equals one on 1 replica."""

import os
import re

import pytest
from script_helpers import run_python

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
        ("hinge", "fused+mixed"),
    ],
)
def test_two_replicas_match_one_with_the_same_global_batch(loss, variant):
    # Logical devices must be set before TensorFlow starts: a fresh process.
    out = run_python(SCRIPT, loss, variant)
    match = re.search(r"RESULT moved=(\S+) diff=(\S+)", out.stdout)
    assert match, out.stderr[-3000:]
    moved, diff = float(match.group(1)), float(match.group(2))
    assert moved > 1e-4  # the step changed the weights
    if "mixed" in variant:  # computed in float16: ~1e-3 relative
        assert diff < 3e-3 * moved
    else:
        assert diff < 1e-6 * max(1.0, moved) + 1e-7


def test_ogan_trains_on_two_replicas():
    # Not compared with one replica: O-GAN's loss depends on z itself, and
    # each replica draws its own.
    out = run_python(SCRIPT, "ogan", "ogan")
    match = re.search(r"RESULT moved=(\S+) diff=(\S+)", out.stdout)
    assert match, out.stderr[-3000:]
    assert float(match.group(1)) > 1e-4
