"""Tests for kgan.layers.latent_split.

`run_layer_check` expects one output tensor, so the same checks are written
out here for a layer that returns a list.
"""

import keras
import numpy as np
import pytest

from kgan.layers.latent_split import LatentSplit

pytestmark = pytest.mark.jax


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("shape, num_chunks", [((2, 12), 3), ((3, 5), 1)])
def test_matches_slicing(shape, num_chunks):
    z = np.random.normal(size=shape).astype("float32")
    chunks = LatentSplit(num_chunks)(z)
    assert isinstance(chunks, list) and len(chunks) == num_chunks
    width = shape[-1] // num_chunks
    for i, chunk in enumerate(chunks):
        np.testing.assert_array_equal(
            _np(chunk), z[:, i * width : (i + 1) * width]
        )


def test_layer_check(tmp_path):
    """Config, shapes, `.keras` round trip and fit, for a list output."""
    layer = LatentSplit(num_chunks=4)
    config = layer.get_config()
    assert config["num_chunks"] == 4
    assert LatentSplit.from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "kgan>LatentSplit"
    assert type(keras.saving.deserialize_keras_object(serialized)) is (
        LatentSplit
    )

    z = keras.Input((8,))
    chunks = layer(z)
    assert [tuple(c.shape) for c in chunks] == [(None, 2)] * 4
    assert layer.compute_output_shape((None, 8)) == [(None, 2)] * 4
    assert layer.weights == []

    # The chunks feed different heads, as BigGAN feeds different blocks.
    heads = [keras.layers.Dense(1)(c) for c in chunks]
    model = keras.Model(z, keras.layers.Concatenate()(heads))
    values = np.random.normal(size=(4, 8)).astype("float32")
    path = str(tmp_path / "split.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(_np(loaded(values)), _np(model(values)))
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(values, np.zeros((4, 4)), verbose=0, batch_size=4)
    assert np.isfinite(history.history["loss"][0])


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    chunks = LatentSplit(2)(np.ones((2, 4), "float32"))
    assert all(
        keras.backend.standardize_dtype(c.dtype) == "float16" for c in chunks
    )


@pytest.mark.parametrize("num_chunks", [0, -2, 2.0, True])
def test_invalid_num_chunks(num_chunks):
    with pytest.raises(ValueError, match="Received: num_chunks="):
        LatentSplit(num_chunks)


def test_indivisible_dimension_fails_at_build():
    with pytest.raises(ValueError, match="Received: num_chunks=3"):
        LatentSplit(3).build((None, 8))
    with pytest.raises(ValueError, match="\\(B, D\\)"):
        LatentSplit(2).build((8,))
