"""Under MirroredStrategy, one step on 2 replicas equals one on 1 replica."""

import os
import re

import pytest
from helpers.script_helpers import run_python

pytestmark = pytest.mark.slow

SCRIPT = os.path.join(
    os.path.dirname(__file__), "helpers", "distributed_step.py"
)


COMPARED = [
    "hinge:fused",
    "hinge:literal",
    "wgan:reversal",
    "hinge:fused+ttur+ema",
    "hinge:alternating",
    "hinge:fused+mixed",
]


@pytest.fixture(scope="module")
def results():
    """`{case: (moved, diff, finite)}` of every case, from one process
    (logical devices must be set before TensorFlow starts)."""
    out = run_python(SCRIPT, *COMPARED, "ogan:ogan")
    found = re.findall(
        r"RESULT case=(\S+) moved=(\S+) diff=(\S+) finite=(\w+)", out.stdout
    )
    return {
        case: (float(moved), float(diff), finite == "True")
        for case, moved, diff, finite in found
    }, out.stderr[-3000:]


@pytest.mark.parametrize("case", COMPARED)
def test_two_replicas_match_one_with_the_same_global_batch(results, case):
    found, stderr = results
    assert case in found, stderr
    moved, diff, finite = found[case]
    assert finite and moved > 1e-4  # the step changed the weights
    if "mixed" in case:  # computed in float16: ~1e-3 relative
        assert diff < 3e-3 * moved
    else:
        assert diff < 1e-6 * max(1.0, moved) + 1e-7


def test_ogan_trains_on_two_replicas(results):
    # Not compared with one replica: O-GAN's loss depends on z itself, and
    # each replica draws its own.
    found, stderr = results
    assert "ogan:ogan" in found, stderr
    moved, _, finite = found["ogan:ogan"]
    assert finite and moved > 1e-4


def test_adaptive_augmentation_counts_the_global_batch_on_two_replicas():
    # 2 steps of 8 images, 64 images per unit of p: 0.25 on any replicas.
    out = run_python(
        os.path.join(os.path.dirname(__file__), "helpers", "distributed_ada.py")
    )
    found = re.search(r"RESULT one=(\S+) two=(\S+)", out.stdout)
    assert found, out.stderr[-3000:]
    assert float(found[1]) == pytest.approx(0.25)
    assert float(found[2]) == pytest.approx(0.25)
