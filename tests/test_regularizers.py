"""Input gradients, penalties, orthogonal regularisation, clipping, noise."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kgan.losses.autodiff import input_gradients
from kgan.losses.regularizers import (
    GradientPenalty,
    OrthogonalRegularization,
    R1Penalty,
    WeightClip,
    WGANDivPenalty,
    apply_weight_clipping,
)
from kgan.losses.tricks import InstanceNoise

SHAPE = (5, 4, 4, 3)

pytestmark = pytest.mark.jax


def images(seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=SHAPE).astype("float32")


def linear_critic(w):
    """`score(x) = sum(w * x)`: its input gradient is `w` everywhere."""
    return lambda x: ops.sum(x * w, axis=(1, 2, 3))


def quadratic_critic(x):
    """`score(x) = 0.5 * sum(x^2)`: its input gradient is `x`."""
    return 0.5 * ops.sum(ops.square(x), axis=(1, 2, 3))


def per_example_norms(x):
    return np.sqrt((x**2).reshape(len(x), -1).sum(axis=1))


@pytest.mark.tensorflow_only
def test_input_gradients_first_and_second_order():
    x = images(0)
    np.testing.assert_allclose(input_gradients(quadratic_critic, x), x)
    np.testing.assert_allclose(
        input_gradients(lambda v: ops.sum(ops.zeros_like(v)), x), 0 * x
    )
    # d/dw sum(grad_x sum(tanh(w x))) = sum(-2 tanh(w x) (1 - tanh^2) x)
    w = tf.Variable(0.7)
    with tf.GradientTape() as tape:
        grads = input_gradients(lambda v: ops.tanh(w * v), x)
        total = ops.sum(grads)
    t = np.tanh(0.7 * x)
    np.testing.assert_allclose(grads, 0.7 * (1 - t**2), rtol=1e-5)
    expected = np.sum((1 - t**2) - 2 * 0.7 * x * t * (1 - t**2))
    np.testing.assert_allclose(tape.gradient(total, w), expected, rtol=1e-4)


def test_input_gradients_unsupported_backend(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "numpy")
    with pytest.raises(NotImplementedError, match="backend='numpy'"):
        input_gradients(quadratic_critic, images(0))


def test_gradient_penalty_linear_critic_closed_form():
    w = np.random.default_rng(1).normal(size=SHAPE[1:]).astype("float32")
    norm = np.sqrt((w**2).sum())
    for weight, center in [(10.0, 1.0), (3.0, 0.0)]:
        gp = GradientPenalty(weight=weight, center=center)
        value = gp(linear_critic(w), images(2), images(3))
        np.testing.assert_allclose(
            value, weight * (norm - center) ** 2, rtol=1e-5
        )


@pytest.mark.tensorflow_only
def test_gradient_penalty_uses_one_uniform_alpha_per_example():
    x_r, x_f = images(4), images(5)
    gp = GradientPenalty(weight=2.0)
    value = gp(quadratic_critic, x_r, x_f, keras.random.SeedGenerator(7))
    # Same seed, same draw: recompute the alphas outside kgan.
    alpha = keras.random.uniform(
        (SHAPE[0], 1, 1, 1), seed=keras.random.SeedGenerator(7)
    )
    alpha = ops.convert_to_numpy(alpha)
    assert np.all((alpha >= 0) & (alpha < 1)) and len(np.unique(alpha)) > 1
    x_hat = alpha * x_r + (1 - alpha) * x_f
    expected = 2.0 * np.mean((per_example_norms(x_hat) - 1.0) ** 2)
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    # The penalties train D only: no gradient reaches the images, though
    # this critic's penalty depends on them.
    x_f = tf.constant(x_f)
    for penalty in (gp, WGANDivPenalty(), R1Penalty()):
        with tf.GradientTape() as tape:
            tape.watch(x_f)
            value = penalty(quadratic_critic, x_f, x_f)
        assert tape.gradient(value, x_f) is None
    # With real == fake every alpha gives the same point, whatever the draw
    # of Keras' global generator (seed_generator=None).
    free = float(gp(quadratic_critic, x_r, x_r))
    np.testing.assert_allclose(
        free, 2.0 * np.mean((per_example_norms(x_r) - 1.0) ** 2), rtol=1e-5
    )


@pytest.mark.tensorflow_only
def test_gradient_penalty_trains_the_critic_second_order():
    # A bias-free Dense critic on flattened images is linear: GP is
    # weight * (||k|| - 1)^2, with gradient 2 weight (||k|| - 1) k / ||k||.
    critic = keras.Sequential(
        [
            keras.Input(SHAPE[1:]),
            keras.layers.Flatten(),
            keras.layers.Dense(1, use_bias=False),
        ]
    )
    kernel = critic.layers[-1].kernel

    def score_fn(x):
        return ops.squeeze(critic(x, training=True), axis=-1)

    gp = GradientPenalty(weight=10.0)
    x_r, x_f = tf.constant(images(6)), tf.constant(images(7))
    with tf.GradientTape() as tape:
        value = gp(score_fn, x_r, x_f, keras.random.SeedGenerator(1))
    k = ops.convert_to_numpy(kernel)
    norm = np.sqrt((k**2).sum())
    np.testing.assert_allclose(value, 10 * (norm - 1) ** 2, rtol=1e-5)
    grad = tape.gradient(value, kernel.value)
    np.testing.assert_allclose(
        grad, 20 * (norm - 1) * k / norm, rtol=1e-4, atol=1e-7
    )


@pytest.mark.tensorflow_only
def test_gradient_penalty_nonlinear_critic_and_unknown_batch():
    critic = keras.Sequential(
        [
            keras.Input(SHAPE[1:]),
            keras.layers.Conv2D(4, 3, activation="tanh"),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    seed_generator = keras.random.SeedGenerator(3)
    gp = GradientPenalty()
    spec = tf.TensorSpec((None,) + SHAPE[1:], "float32")

    @tf.function(input_signature=[spec, spec])
    def step(x_r, x_f):
        with tf.GradientTape() as tape:
            value = gp(
                lambda x: critic(x, training=True)[:, 0],
                x_r,
                x_f,
                seed_generator,
            )
        return value, tape.gradient(value, critic.trainable_variables)

    value, grads = step(images(8), images(9))
    assert np.isfinite(float(value)) and float(value) > 0
    # The output bias shifts every score equally: no input gradient sees it.
    *grads, output_bias_grad = grads
    assert output_bias_grad is None
    for grad in grads:
        assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_wgan_div_closed_forms():
    x_r, x_f = images(10), images(11)
    w = np.full(SHAPE[1:], 0.3, "float32")
    norm = np.sqrt((w**2).sum())
    div = WGANDivPenalty(k=2.0, p=6.0)
    np.testing.assert_allclose(
        div(linear_critic(w), x_r, x_f), 2 * 2.0 * norm**6, rtol=1e-5
    )
    expected = 3.0 * (
        np.mean(per_example_norms(x_r) ** 4)
        + np.mean(per_example_norms(x_f) ** 4)
    )
    np.testing.assert_allclose(
        WGANDivPenalty(k=3.0, p=4.0)(quadratic_critic, x_r, x_f),
        expected,
        rtol=1e-5,
    )
    assert div.weight == 2.0


def test_r1_uses_real_images_only():
    x_r = images(12)
    r1 = R1Penalty(gamma=4.0)
    expected = 0.5 * 4.0 * np.mean(per_example_norms(x_r) ** 2)
    for x_f in (images(13), 100 * images(14)):
        np.testing.assert_allclose(
            r1(quadratic_critic, x_r, x_f), expected, rtol=1e-5
        )
    assert r1.weight == 4.0 and r1.target == "discriminator"


def test_penalties_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    critic = keras.Sequential(
        [
            keras.Input(SHAPE[1:]),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )

    def score_fn(x):
        return critic(x, training=True)[:, 0]

    x_r, x_f = images(15).astype("float16"), images(16).astype("float16")
    for penalty in (GradientPenalty(), WGANDivPenalty(), R1Penalty()):
        value = penalty(score_fn, x_r, x_f, keras.random.SeedGenerator(0))
        assert keras.backend.standardize_dtype(value.dtype) == "float32"
        assert np.isfinite(float(value))


def orthogonal_reference(kernels, beta):
    total = 0.0
    for k in kernels:
        if k.ndim < 2:
            continue
        w = k.reshape(-1, k.shape[-1])
        gram = w.T @ w
        total += ((gram * (1 - np.eye(len(gram)))) ** 2).sum()
    return beta * total


@pytest.mark.tensorflow_only
def test_orthogonal_regularization():
    rng = np.random.default_rng(17)
    kernels = [
        rng.normal(size=(3, 3, 2, 4)).astype("float32"),
        rng.normal(size=(5, 6)).astype("float32"),
        rng.normal(size=(4,)).astype("float32"),  # a bias: skipped
    ]
    ortho = OrthogonalRegularization(beta=1e-2)
    np.testing.assert_allclose(
        ortho(kernels), orthogonal_reference(kernels, 1e-2), rtol=1e-5
    )
    # Orthogonal columns of any norms cost nothing.
    q, _ = np.linalg.qr(rng.normal(size=(8, 3)))
    scaled = (q * np.array([0.5, 2.0, 3.0])).astype("float32")
    np.testing.assert_allclose(ortho([scaled]), 0.0, atol=1e-6)
    # Works on a model's variables, differentiably.
    dense = keras.layers.Dense(3)
    dense.build((None, 5))
    with tf.GradientTape() as tape:
        value = ortho(dense.trainable_weights)
    grad = tape.gradient(value, dense.kernel.value)
    assert np.any(ops.convert_to_numpy(grad) != 0)
    assert ortho.target == "generator" and ortho.weight == 1e-2
    assert float(ortho([])) == 0.0


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("use_fit", [False, True])
def test_weight_clipping_after_an_optimizer_step(use_fit):
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, kernel_initializer="ones"),
            keras.layers.Dense(1),
        ]
    )
    assert apply_weight_clipping(model, clip_value=0.05) is model
    for variable in model.trainable_variables:
        assert isinstance(variable.constraint, WeightClip)
        assert np.abs(ops.convert_to_numpy(variable)).max() <= np.float32(0.05)
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32") * 10
    y = np.full((16, 1), 100.0, "float32")
    optimizer = keras.optimizers.SGD(learning_rate=1.0)
    if use_fit:
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    else:
        with tf.GradientTape() as tape:
            loss = ops.mean(ops.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    values = np.concatenate(
        [ops.convert_to_numpy(v).ravel() for v in model.trainable_variables]
    )
    assert np.abs(values).max() <= 0.05 + 1e-7
    # The huge step pushed weights to the bounds: the clip did the work.
    assert np.isclose(np.abs(values).max(), 0.05)


def test_configs_round_trip_and_errors():
    objects = [
        GradientPenalty(weight=5.0, center=0.0),
        WGANDivPenalty(k=1.0, p=2.0),
        R1Penalty(gamma=0.5),
        OrthogonalRegularization(beta=1e-3),
        WeightClip(0.02),
        InstanceNoise(initial_std=0.2, decay_steps=50),
    ]
    for obj in objects:
        config = keras.saving.serialize_keras_object(obj)
        assert config["registered_name"].startswith("kgan>")
        revived = keras.saving.deserialize_keras_object(
            json.loads(json.dumps(config))
        )
        assert type(revived) is type(obj)
        assert revived.get_config() == obj.get_config()
    with pytest.raises(ValueError, match="Received: weight=-1"):
        GradientPenalty(weight=-1)
    with pytest.raises(ValueError, match="Received: p=0.5"):
        WGANDivPenalty(p=0.5)
    with pytest.raises(ValueError, match="Received: gamma='abc'"):
        R1Penalty(gamma="abc")
    with pytest.raises(ValueError, match="Received: clip_value=0"):
        WeightClip(0)
    with pytest.raises(ValueError, match="Received: decay_steps=0"):
        InstanceNoise(decay_steps=0)
    with pytest.raises(ValueError, match="Received: initial_std=-0.1"):
        InstanceNoise(initial_std=-0.1)


def test_instance_noise_schedule_and_std():
    noise = InstanceNoise(initial_std=0.1, decay_steps=10000)
    for step, std in [(0, 0.1), (2500, 0.075), (10000, 0.0), (20000, 0.0)]:
        np.testing.assert_allclose(noise.std(step), std, atol=1e-7)
    step = keras.Variable(5000, dtype="int64", trainable=False)
    np.testing.assert_allclose(noise.std(step), 0.05, atol=1e-7)

    clean = np.zeros((64, 16, 16, 3), "float32")
    noisy = ops.convert_to_numpy(
        noise(clean, 2500, keras.random.SeedGenerator(0))
    )
    assert abs(noisy.std() - 0.075) < 0.075 * 0.03
    assert abs(noisy.mean()) < 0.003
    x = images(18)
    np.testing.assert_array_equal(noise(x, 10000), x)
    # Same seed, same noise; float16 images stay float16.
    again = noise(clean, 2500, keras.random.SeedGenerator(0))
    np.testing.assert_array_equal(ops.convert_to_numpy(again), noisy)
    half = noise(clean.astype("float16"), 0, keras.random.SeedGenerator(1))
    assert keras.backend.standardize_dtype(half.dtype) == "float16"


JAX_SCRIPT = """
import numpy as np
from keras import ops
from kgan.losses.regularizers import GradientPenalty
from kgan.losses.autodiff import input_gradients
import jax
x = np.random.default_rng(0).uniform(-1, 1, (3, 2, 2, 1)).astype("float32")
g = input_gradients(lambda v: 0.5 * ops.sum(v * v, axis=(1, 2, 3)), x)
np.testing.assert_allclose(g, x, rtol=1e-6)
second = jax.grad(
    lambda w: ops.sum(input_gradients(lambda v: ops.tanh(w * v), x))
)(0.7)
t = np.tanh(0.7 * x)
ref = np.sum((1 - t**2) - 2 * 0.7 * x * t * (1 - t**2))
np.testing.assert_allclose(second, ref, rtol=1e-4)
w = np.ones((2, 2, 1), "float32")
gp = GradientPenalty(weight=1.0)(
    lambda v: ops.sum(v * w, axis=(1, 2, 3)), x, -x, 1
)
np.testing.assert_allclose(gp, 1.0, rtol=1e-5)
print("ok")
"""


@pytest.mark.slow
def test_input_gradients_on_jax():
    pytest.importorskip("jax")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, KERAS_BACKEND="jax")
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in sys.path if p])
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


@pytest.mark.parametrize("trainer", ["onestep", "ogan", "alternating"])
def test_instance_noise_follows_the_step_inside_fit(trainer):
    """Inside `fit` the schedule reads the true step, on every backend (on
    JAX, Keras detaches `optimizer.iterations` during `fit`): a huge std at
    step 0 that is gone from step 1 on shows in the first step's loss only."""
    from helpers.gan_fixtures import mlp_discriminator, mlp_generator

    from kgan.training import OGAN, AlternatingGAN, OneStepGAN

    noise = InstanceNoise(initial_std=1e4, decay_steps=1)
    if trainer == "ogan":
        gan = OGAN(
            mlp_generator(z_dim=4),
            mlp_discriminator(out_dim=4),
            instance_noise=noise,
            seed=0,
        )
    else:
        cls = OneStepGAN if trainer == "onestep" else AlternatingGAN
        gan = cls(
            mlp_generator(),
            mlp_discriminator(),
            loss="hinge",
            instance_noise=noise,
            seed=0,
        )
    optimizer = keras.optimizers.SGD(1e-12)  # the weights barely move
    if trainer == "alternating":
        gan.compile(optimizer, keras.optimizers.SGD(1e-12))
    else:
        gan.compile(optimizer)
    points = np.random.default_rng(0).uniform(-1, 1, (16, 2)).astype("float32")
    losses = gan.fit(points, batch_size=16, epochs=3, verbose=0).history[
        "d_loss"
    ]
    # Step 0 sees the noise; steps 1 and 2 (fresh z, no noise) do not.
    assert abs(losses[0]) > 100 * max(abs(losses[1]), abs(losses[2]))
