"""keras.distribution.DataParallel: one step on 2 JAX devices equals one
step on 1 device with the same global batch, for every trainer."""

import os
import re

import pytest
from helpers.script_helpers import run_python

pytestmark = pytest.mark.slow

SCRIPT = os.path.join(
    os.path.dirname(__file__), "helpers", "distributed_jax_step.py"
)


CASES = [
    "onestep-hinge",  # literal: Keras' own train_step
    "onestep-wgan-gp",  # reversal
    "onestep-sn-ortho-ttur-ema",  # literal
    "alternating",
    # The fused formulation ("auto"; two pullbacks of one pass).
    "onestep-hinge-fused",
    "onestep-sn-ortho-ttur-ema-fused",
    "ogan-fused",
    "mixed-precision-fused",
]


@pytest.fixture(scope="module")
def results():
    """`{case: (moved, diff, variables)}` from one fresh process: the
    virtual devices must exist before JAX starts, on JAX whatever backend
    this test suite runs."""
    out = run_python(SCRIPT, *CASES)
    found = re.findall(
        r"RESULT case=(\S+) moved=(\S+) diff=(\S+) variables=(\d+)", out.stdout
    )
    return {
        case: (float(moved), float(diff), int(variables))
        for case, moved, diff, variables in found
    }, out.stderr[-3000:]


@pytest.mark.parametrize("case", CASES)
def test_two_devices_match_one_with_the_same_global_batch(results, case):
    found, stderr = results
    assert case in found, stderr
    moved, diff, variables = found[case]
    assert moved > 1e-3  # the step changed the weights
    # float32: summation order only; mixed_float16 computes in half
    # precision (~1e-3 relative).
    tolerance = 3e-3 if case.startswith("mixed-precision") else 1e-5
    assert diff < tolerance * moved, (moved, diff)
    assert variables > 20
