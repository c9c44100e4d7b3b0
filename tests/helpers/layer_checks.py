"""A generic check that every kgan layer passes, in the way Keras tests its own.

`keras.src.testing.TestCase.run_layer_test` is private API, so this module
restates what it checks for our layers: build, shapes (symbolic and eager
agree), weight counts, config and serialization round trips, a `.keras`
save/load with equal outputs in safe mode, and one `fit` step in training mode.
"""

import os

import keras
import numpy as np


def _random_inputs(input_specs, seed=0):
    """`input_specs`: (shape, dtype[, high]) per input, batch axis first."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in input_specs:
        shape, dtype = spec[0], spec[1]
        if "int" in dtype:
            high = spec[2] if len(spec) > 2 else 2
            arrays.append(rng.integers(0, high, size=shape).astype(dtype))
        else:
            arrays.append(rng.normal(size=shape).astype(dtype))
    return arrays


def _as_call_input(values):
    return values[0] if len(values) == 1 else list(values)


def run_layer_check(
    layer_cls,
    init_kwargs,
    input_specs,
    expected_output_shape,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    tmp_path=None,
    fit=True,
):
    """Run the generic layer check; returns the built layer for more asserts.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        input_specs: list of `(shape, dtype)` or `(shape, dtype, high)` per
            input, the batch axis included; one entry means a single tensor.
        expected_output_shape: full output shape, batch axis included.
        expected_num_trainable_weights: count of trainable weights, or None.
        expected_num_non_trainable_weights: count, or None.
        tmp_path: a folder for the `.keras` round trip (skipped when None).
        fit: whether to run one `fit` step on a model around the layer.
    """
    values = _random_inputs(input_specs)

    # Config round trip before build, as Keras does.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert key in config, f"get_config() misses {key!r}"
    rebuilt = layer_cls.from_config(config)
    assert rebuilt.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("kgan>"), serialized
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is layer_cls
    assert revived.get_config() == config

    # Symbolic call: shapes agree with compute_output_shape and eager.
    symbolic_inputs = [
        keras.Input(batch_shape=spec[0], dtype=spec[1]) for spec in input_specs
    ]
    symbolic_out = layer(_as_call_input(symbolic_inputs))
    assert tuple(symbolic_out.shape) == tuple(expected_output_shape)
    input_shapes = [spec[0] for spec in input_specs]
    computed = layer.compute_output_shape(
        input_shapes[0] if len(input_shapes) == 1 else input_shapes
    )
    assert tuple(computed) == tuple(expected_output_shape)

    eager_layer = layer_cls(**init_kwargs)
    eager_out = eager_layer(_as_call_input(values), training=False)
    assert tuple(eager_out.shape) == tuple(expected_output_shape)
    eager_train = eager_layer(_as_call_input(values), training=True)
    assert tuple(eager_train.shape) == tuple(expected_output_shape)

    if expected_num_trainable_weights is not None:
        assert (
            len(eager_layer.trainable_weights) == expected_num_trainable_weights
        ), [w.path for w in eager_layer.trainable_weights]
    if expected_num_non_trainable_weights is not None:
        assert (
            len(eager_layer.non_trainable_weights)
            == expected_num_non_trainable_weights
        ), [w.path for w in eager_layer.non_trainable_weights]

    model = keras.Model(symbolic_inputs, symbolic_out)
    reference = keras.ops.convert_to_numpy(
        model(_as_call_input(values), training=False)
    )

    if tmp_path is not None:
        path = os.path.join(str(tmp_path), f"{layer_cls.__name__}.keras")
        model.save(path)
        loaded = keras.models.load_model(path)  # safe_mode=True by default
        restored = keras.ops.convert_to_numpy(
            loaded(_as_call_input(values), training=False)
        )
        np.testing.assert_allclose(restored, reference, rtol=1e-5, atol=1e-5)

    if fit:
        model.compile(optimizer="sgd", loss="mse")
        target = np.zeros(expected_output_shape, "float32")
        history = model.fit(
            _as_call_input(values),
            target,
            epochs=1,
            verbose=0,
            batch_size=expected_output_shape[0],
        )
        assert np.isfinite(history.history["loss"][0])
    return eager_layer
