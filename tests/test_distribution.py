"""kgan.distribution in one process: launch variables, placements, errors.

Runs with several devices and processes are in test_distribution_jax.py,
test_distributed.py (MirroredStrategy) and test_multiprocess.py.
"""

import keras
import numpy as np
import pytest

from kgan import cli, distribution

pytestmark = pytest.mark.jax

LAUNCH = {
    "KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234",
    "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
    "KERAS_DISTRIBUTION_PROCESS_ID": "1",
}


def test_no_launch_variables_means_one_process():
    assert distribution.launch_settings({}) is None
    assert distribution.launch_settings({"OTHER": "1"}) is None


def test_launch_variables_are_read_as_keras_documents_them():
    assert distribution.launch_settings(LAUNCH) == ("10.0.0.1:1234", 2, 1)
    # Every address listed, the coordinator first.
    every = dict(LAUNCH, KERAS_DISTRIBUTION_JOB_ADDRESSES="h0:1, h1:2")
    assert distribution.launch_settings(every) == ("h0:1", 2, 1)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"KERAS_DISTRIBUTION_PROCESS_ID": ""},
            "missing: KERAS_DISTRIBUTION_PROCESS_ID. Set them",
        ),
        (
            {"KERAS_DISTRIBUTION_NUM_PROCESSES": "two"},
            "KERAS_DISTRIBUTION_NUM_PROCESSES='two' and "
            "KERAS_DISTRIBUTION_PROCESS_ID='1' must be integers.",
        ),
        (
            {"KERAS_DISTRIBUTION_PROCESS_ID": "2"},
            "KERAS_DISTRIBUTION_PROCESS_ID=2 must be in "
            "[0, KERAS_DISTRIBUTION_NUM_PROCESSES=2)",
        ),
        (
            {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "a:1,b:2,c:3"},
            "lists 3 addresses for KERAS_DISTRIBUTION_NUM_PROCESSES=2",
        ),
        (
            {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1"},
            "the coordinator must be host:port, e.g. 10.0.0.1:1234.",
        ),
    ],
)
def test_a_malformed_launch_is_one_line_naming_the_fix(change, message):
    with pytest.raises(distribution.DistributionError) as error:
        distribution.launch_settings(dict(LAUNCH, **change))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.tensorflow_only
def test_several_processes_need_jax(monkeypatch):
    for name, value in LAUNCH.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(
        distribution.DistributionError, match="KERAS_BACKEND=jax"
    ):
        distribution.join_processes()


def test_one_process_is_the_chief_and_joins_nothing(monkeypatch):
    for name in LAUNCH:
        monkeypatch.delenv(name, raising=False)
    assert distribution.join_processes() == 1
    assert distribution.process_count() == 1
    assert distribution.process_index() == 0
    assert distribution.is_chief()
    distribution.check_same_everywhere(5, "the step")  # nothing to compare


def test_placements_and_the_global_batch():
    none = distribution.place("none")
    assert (none.mode, none.replicas, none.processes) == ("none", 1, 1)
    assert none.describe().startswith("one device (")
    parallel = distribution.place("data-parallel")
    assert parallel.replicas >= 1
    assert parallel.describe().startswith("data-parallel over ")
    with parallel.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert model.count_params() == 8
    with pytest.raises(distribution.DistributionError, match="not one of"):
        distribution.place("model-parallel")


def test_a_batch_that_does_not_split_names_the_nearest_ones():
    two = distribution.Placement("data-parallel", 2, 1, "2 x GPU")
    assert two.check_batch_size(64) == 64
    with pytest.raises(distribution.DistributionError) as error:
        two.check_batch_size(7)
    assert str(error.value) == (
        "--batch-size 7 (the global batch) does not split across 2 "
        "replicas: use a multiple of 2, e.g. 6 or 8."
    )
    eight = distribution.Placement("data-parallel", 8, 2, "8 x GPU")
    with pytest.raises(distribution.DistributionError, match="e.g. 8\\.$"):
        eight.check_batch_size(4)
    assert (
        eight.describe()
        == "data-parallel over 8 replicas (8 x GPU) in 2 processes"
    )


def test_predict_in_one_process_is_keras_predict():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, activation="tanh")]
    )
    x = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    expected = np.tanh(x @ model.get_weights()[0] + model.get_weights()[1])
    got = distribution.predict(model, x, batch_size=4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    with distribution.process_local():
        assert keras.distribution.distribution() is None


@pytest.mark.tensorflow_only
def test_the_old_strategy_flag_still_works_and_says_so(capsys):
    parser = cli.common_parser("t", out_default="o", steps_default=1)
    args = parser.parse_args(["--strategy", "mirrored"])
    where = cli.placement(args)
    assert where.mode == "data-parallel" == args.distribution
    assert "--strategy is deprecated; read as --distribution data-parallel" in (
        capsys.readouterr().err
    )
