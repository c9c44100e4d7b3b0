"""Tests for StyleMixing and LatentResample, the layers of StyleGAN's
mixing regularisation (the generator's use of them: test_stylegan_styles)."""

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check

from kgan.layers.latent_resample import LatentResample
from kgan.layers.style_mixing import StyleMixing

pytestmark = pytest.mark.jax

NUM_LAYERS = 6


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _z(n, z_dim=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, z_dim)).astype("f4")


def _styles_pair(n=3, layers=NUM_LAYERS, dim=4):
    return [np.zeros((n, layers, dim), "f4"), np.ones((n, layers, dim), "f4")]


def _crossover(out):
    """The first layer taking the second latent (all-ones rows)."""
    rows = _np(out)[:, :, 0]
    assert (rows == rows[:1]).all()  # one decision for the whole batch
    k = int(rows.shape[1] - rows[0].sum())
    np.testing.assert_array_equal(rows[0], np.arange(rows.shape[1]) >= k)
    return k


def test_style_mixing_crossover_is_uniform_and_one_per_batch():
    layer = StyleMixing(probability=1.0, seed=3)
    pair = _styles_pair()
    counts = np.bincount(
        [_crossover(layer(pair, training=True)) for _ in range(250)],
        minlength=NUM_LAYERS + 1,
    )
    # Always mixed, crossover in 1..L-1: the first row is always w's.
    assert counts[0] == 0 and counts[NUM_LAYERS] == 0
    assert counts[1:NUM_LAYERS].min() >= 30  # 50 expected for each k


@pytest.mark.parametrize("probability", [0.0, 0.3, 0.9])
def test_style_mixing_probability_and_inference_identity(probability):
    layer = StyleMixing(probability=probability, seed=1)
    pair = _styles_pair()
    mixed = [
        _crossover(layer(pair, training=True)) < NUM_LAYERS for _ in range(300)
    ]
    assert np.mean(mixed) == pytest.approx(probability, abs=0.08)
    for training in (False, None):
        np.testing.assert_array_equal(_np(layer(pair, training=training)), 0)


def test_style_mixing_is_stateless_through_its_seed_state():
    """As in a JAX train step: same seed state, same mix; the state the call
    returns gives the next, different draws."""
    layer = StyleMixing(probability=1.0, seed=0)
    pair = _styles_pair()
    layer(pair)
    state = [v.value for v in layer.non_trainable_variables]
    assert len(state) == 1  # the SeedGenerator's state

    def step(state):
        return layer.stateless_call([], state, pair, training=True)

    if keras.backend.backend() == "jax":
        import jax

        step = jax.jit(step)
    first, next_state = step(state)
    again, _ = step(state)
    np.testing.assert_array_equal(_np(first), _np(again))
    crossovers = set()
    for _ in range(20):
        out, next_state = step(next_state)
        crossovers.add(_crossover(out))
    assert len(crossovers) > 2


def test_latent_resample_draws_fresh_normals_in_training_only():
    z = _z(400, seed=1)
    layer = LatentResample(seed=2)
    np.testing.assert_array_equal(_np(layer(z, training=False)), z)
    first, second = (_np(layer(z, training=True)) for _ in range(2))
    assert first.shape == z.shape and not np.allclose(first, second)
    assert np.abs(np.corrcoef(first.ravel(), z.ravel())[0, 1]) < 0.05
    assert abs(first.mean()) < 0.05 and abs(first.std() - 1.0) < 0.05
    np.testing.assert_array_equal(
        _np(LatentResample(seed=2)(z, training=True)), first
    )


@pytest.mark.parametrize(
    "cls,kwargs,input_specs,output_shape",
    [
        (
            StyleMixing,
            {"probability": 0.5, "seed": 4},
            [((2, 6, 3), "float32"), ((2, 6, 3), "float32")],
            (2, 6, 3),
        ),
        (LatentResample, {"seed": 4}, [((2, 5), "float32")], (2, 5)),
    ],
)
def test_generic_layer_check(cls, kwargs, input_specs, output_shape, tmp_path):
    run_layer_check(
        cls,
        kwargs,
        input_specs,
        output_shape,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        tmp_path=tmp_path,
        fit=False,  # no weights to fit; the generator test fits through them
    )


def test_invalid_layer_arguments():
    with pytest.raises(ValueError, match="probability=1.5"):
        StyleMixing(probability=1.5)
    with pytest.raises(ValueError, match="seed='1'"):
        LatentResample(seed="1")
    with pytest.raises(ValueError, match="input_shape"):
        StyleMixing()([np.zeros((2, 6, 3)), np.zeros((2, 5, 3))])
