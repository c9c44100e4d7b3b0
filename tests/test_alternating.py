"""AlternatingGAN on TensorFlow and JAX: the update, saving, EMA, state.

Run under both backends: `python -m pytest tests/test_alternating.py` and
`KERAS_BACKEND=jax python -m pytest tests/test_alternating.py`.
"""

import keras
import numpy as np
import pytest
from helpers.gan_fixtures import (
    RecordGenerator,
    mlp_discriminator,
    mlp_generator,
    ring_of_gaussians,
)

from kgan.losses import R1Penalty
from kgan.training import AlternatingGAN

pytestmark = pytest.mark.jax


def _values(variables):
    return [keras.ops.convert_to_numpy(v).copy() for v in variables]


def _points(n=64):
    return ring_of_gaussians(n)[0]


# -- an independent reference: the MLPs and losses in NumPy -----------------
_ACTIVATIONS = {  # (f, f')
    "relu": (lambda a: np.maximum(a, 0.0), lambda a: (a > 0) * 1.0),
    "leaky": (
        lambda a: np.where(a > 0, a, 0.2 * a),
        lambda a: np.where(a > 0, 1.0, 0.2),
    ),
    "tanh": (np.tanh, lambda a: 1.0 - np.tanh(a) ** 2),
    "linear": (lambda a: a, np.ones_like),
}
G_ACTS = ("relu", "relu", "tanh")  # gan_fixtures.mlp_generator
D_ACTS = ("leaky", "leaky", "linear")  # gan_fixtures.mlp_discriminator


def _forward(weights, acts, x):
    """The MLP's output and, per layer, (input, pre-activation)."""
    cache = []
    for i, act in enumerate(acts):
        a = x @ weights[2 * i] + weights[2 * i + 1]
        cache.append((x, a))
        x = _ACTIVATIONS[act][0](a)
    return x, cache


def _backward(weights, acts, cache, grad):
    """Backprop of d(loss)/d(output): (weight gradients, input gradient)."""
    grads = [None] * len(weights)
    for i in reversed(range(len(acts))):
        x, a = cache[i]
        grad = grad * _ACTIVATIONS[acts[i]][1](a)
        grads[2 * i] = x.T @ grad
        grads[2 * i + 1] = grad.sum(0)
        grad = grad @ weights[2 * i].T
    return grads, grad


def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def _d_loss(loss, s_r, s_f):
    """(value, d/d s_r, d/d s_f) of the discriminator's loss."""
    n = len(s_r)
    if loss == "hinge":
        value = np.maximum(1 - s_r, 0).mean() + np.maximum(1 + s_f, 0).mean()
        return value, -1.0 * (1 - s_r > 0) / n, 1.0 * (1 + s_f > 0) / n
    value = np.logaddexp(0, -s_r).mean() + np.logaddexp(0, s_f).mean()
    return value, -_sigmoid(-s_r) / n, _sigmoid(s_f) / n


def _g_loss(loss, s_f):
    """(value, d/d s_f) of the generator's loss."""
    n = len(s_f)
    if loss == "hinge":
        return -s_f.mean(), -np.ones_like(s_f) / n
    return np.logaddexp(0, -s_f).mean(), -_sigmoid(-s_f) / n


def _shared(s_f):
    """(value, d/d s_f) of the shared `0.3 * (mean(s_f) - 1)^2`."""
    return 0.3 * (s_f.mean() - 1) ** 2, 0.6 * (s_f.mean() - 1) / len(s_f)


def _reference_step(g_w, d_w, x, zs, loss, lr, d_steps, extra=False):
    """`d_steps` SGD steps of D, then one of G against the updated D. With
    `extra`, D also takes `0.1 * mean(s_r^2)`, and each step the shared
    term on its own view of the fakes (`WithExtraTerms`)."""
    for z in zs[:d_steps]:
        fake, _ = _forward(g_w, G_ACTS, z)
        s_r, c_r = _forward(d_w, D_ACTS, x)
        s_f, c_f = _forward(d_w, D_ACTS, fake)
        d_loss, g_r, g_f = _d_loss(loss, s_r[:, 0], s_f[:, 0])
        if extra:
            d_loss += 0.1 * (s_r[:, 0] ** 2).mean()
            g_r = g_r + 0.2 * s_r[:, 0] / len(s_r)
            g_f = g_f + _shared(s_f[:, 0])[1]
        grads_r, _ = _backward(d_w, D_ACTS, c_r, g_r[:, None])
        grads_f, _ = _backward(d_w, D_ACTS, c_f, g_f[:, None])
        d_w = [w - lr * (a + b) for w, a, b in zip(d_w, grads_r, grads_f)]
        scores = (s_r.mean(), s_f.mean())
    fake, c_g = _forward(g_w, G_ACTS, zs[d_steps])
    s_f, c_f = _forward(d_w, D_ACTS, fake)
    g_loss, g_f = _g_loss(loss, s_f[:, 0])
    if extra:
        g_f = g_f + _shared(s_f[:, 0])[1]
    _, grad_fake = _backward(d_w, D_ACTS, c_f, g_f[:, None])
    grads_g, _ = _backward(g_w, G_ACTS, c_g, grad_fake)
    g_w = [w - lr * g for w, g in zip(g_w, grads_g)]
    logs = {"d_loss": d_loss, "g_loss": g_loss,
            "real_score": scores[0], "fake_score": scores[1]}  # fmt: skip
    return g_w, d_w, logs


class WithExtraTerms(AlternatingGAN):
    """A term added to D's group and a shared one: the alternating steps
    take them from the same groups as the one-step trainer."""

    def discriminator_terms(self, out, labels):
        terms = super().discriminator_terms(out, labels)
        terms["d_extra"] = 0.1 * keras.ops.mean(
            keras.ops.square(out["real_codes"])
        )
        return terms

    def shared_terms(self, out):
        mean = keras.ops.mean(out["g_fake_codes"])
        return {"shared": 0.3 * keras.ops.square(mean - 1.0)}


@pytest.mark.parametrize(
    "loss,d_steps,trainer",
    [("hinge", 1, AlternatingGAN), ("ns", 2, AlternatingGAN),
     ("hinge", 2, WithExtraTerms)],
)  # fmt: skip
def test_one_step_matches_an_independent_reference(loss, d_steps, trainer):
    g, d = mlp_generator(), mlp_discriminator()
    gan = trainer(g, d, loss=loss, d_steps=d_steps, seed=0)
    lr = 0.1
    gan.compile(keras.optimizers.SGD(lr), keras.optimizers.SGD(lr))
    rng = np.random.default_rng(0)
    zs = rng.normal(size=(d_steps + 1, 32, 4)).astype("float32")
    calls = []

    def fixed_z(batch_size):  # z_1..z_k for the D steps, then G's
        calls.append(batch_size)
        return keras.ops.convert_to_tensor(zs[(len(calls) - 1) % len(zs)])

    gan.sample_z = fixed_z
    x = _points(32)
    g0, d0 = g.get_weights(), d.get_weights()
    history = gan.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert calls and len(calls) % (d_steps + 1) == 0  # whole steps traced

    as64 = [[w.astype("float64") for w in ws] for ws in (g0, d0)]
    g_w, d_w, logs = _reference_step(
        *as64, x.astype("float64"), zs.astype("float64"), loss, lr, d_steps,
        extra=trainer is WithExtraTerms,
    )  # fmt: skip
    for got, want in zip(g.get_weights() + d.get_weights(), g_w + d_w):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for key, want in logs.items():
        np.testing.assert_allclose(history.history[key][0], want, rtol=1e-4)
    moved = [not np.allclose(a, b) for a, b in zip(g0 + d0, g_w + d_w)]
    assert any(moved[: len(g0)]) and any(moved[len(g0) :])
    # One G step, d_steps D steps; `optimizer.iterations` counts steps.
    assert int(gan.g_optimizer.iterations) == 1
    assert int(gan.d_optimizer.iterations) == d_steps
    assert int(gan.optimizer.iterations) == int(gan.current_step()) == 1


# -- saving -----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("setup", ["ttur", "ema"])
def test_save_load_and_fit_again_continues_identically(tmp_path, setup):
    gan = AlternatingGAN(mlp_generator(), mlp_discriminator(),
                         d_steps=2, seed=3)  # fmt: skip
    if setup == "ttur":
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(3e-3))
    else:
        gan.compile(
            keras.optimizers.SGD(0.05),
            keras.optimizers.SGD(0.05),
            ema_momentum=0.9,
        )
    points = _points(64)
    gan.fit(points, batch_size=32, epochs=1, verbose=0, shuffle=False)
    path = str(tmp_path / "alt.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)  # safe mode

    assert isinstance(reloaded, AlternatingGAN) and reloaded.d_steps == 2
    assert isinstance(reloaded.optimizer, keras.optimizers.MultiOptimizer)
    for name in ("d_optimizer", "g_optimizer"):
        a, b = getattr(gan, name), getattr(reloaded, name)
        assert type(a) is type(b)
        assert float(a.learning_rate) == pytest.approx(float(b.learning_rate))
        assert a.use_ema == b.use_ema
    if setup == "ema":
        assert reloaded.g_optimizer.use_ema
        assert reloaded.g_optimizer.ema_momentum == pytest.approx(0.9)
        assert not reloaded.d_optimizer.use_ema
    else:
        assert float(reloaded.g_optimizer.learning_rate) == pytest.approx(3e-3)
    for a, b in zip(_state(gan), _state(reloaded)):
        np.testing.assert_array_equal(a, b)

    gan.fit(points, batch_size=32, epochs=1, verbose=0, shuffle=False)
    history = reloaded.fit(
        points, batch_size=32, epochs=1, verbose=0, shuffle=False
    )
    assert "loss" not in history.history
    for a, b in zip(_state(gan), _state(reloaded)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _state(gan):
    variables = gan.weights + gan.optimizer.variables
    return _values(variables) + _values([gan.seed_generator.state])


# -- the generator's EMA ----------------------------------------------------
def test_fit_ends_with_the_generator_ema():
    g, d = mlp_generator(), mlp_discriminator()
    gan = AlternatingGAN(g, d, seed=0)
    gan.compile(
        keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05), ema_momentum=0.8
    )
    record = RecordGenerator()
    d_record = []

    class RecordD(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            d_record.append(_values(self.model.discriminator.weights))

    gan.fit(_points(6 * 16), batch_size=16, epochs=1, verbose=0,
            shuffle=False, callbacks=[record, RecordD()])  # fmt: skip
    ema = [w.copy() for w in record.steps[0]]
    for weights in record.steps[1:]:
        ema = [0.8 * e + 0.2 * w for e, w in zip(ema, weights)]
    for got, want in zip(_values(g.trainable_variables), ema):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(record.steps[-1], ema))
    # D is not averaged; the generator's weights are fresh buffers.
    for got, want in zip(_values(d.weights), d_record[-1]):
        np.testing.assert_array_equal(got, want)
    with gan.ema_weights():
        inside = _values(g.trainable_variables)
    for a, b in zip(inside, ema):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -- network state: BatchNorm, spectral norm, penalties ---------------------
@pytest.mark.slow
@pytest.mark.parametrize("norm", ["batch", "spectral"])
def test_normalised_networks_with_r1_train_and_keep_their_state(norm):
    g = mlp_generator(batch_norm=True)
    d = mlp_discriminator(norm=norm)
    gan = AlternatingGAN(g, d, loss="ns", d_steps=2, seed=1,
                         regularizers=[R1Penalty(1.0)])  # fmt: skip
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    before = _values(gan.weights)
    history = gan.fit(_points(64), batch_size=32, epochs=1, verbose=0)
    for key in ("d_loss", "g_loss", "real_score", "fake_score"):
        assert np.isfinite(history.history[key][-1])
    after = _values(gan.weights)
    moved = {
        v.path: not np.allclose(a, b)
        for v, a, b in zip(gan.weights, before, after)
    }
    for network in (g, d):
        assert any(moved[v.path] for v in network.trainable_variables)
        # BatchNorm's moving statistics, spectral norm's vector u.
        assert all(moved[v.path] for v in network.non_trainable_variables)
    assert int(gan.seed_generator.state[1]) == 2 * 3  # 3 z draws a step
    assert int(gan.d_optimizer.iterations) == 2 * 2


# -- mixed precision --------------------------------------------------------
# (mixed_float16 against float32: tests/test_trainers.py)
def test_loss_scaling_skips_overflowing_steps_and_grows_the_scale():
    keras.config.set_dtype_policy("mixed_float16")
    gan = AlternatingGAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    scaler = gan.optimizer
    scaler.dynamic_scale.assign(1e38)  # every gradient overflows
    before = _values(gan.trainable_variables)
    gan.fit(_points(32), batch_size=32, epochs=1, verbose=0)
    for a, b in zip(before, _values(gan.trainable_variables)):
        np.testing.assert_array_equal(a, b)
    assert float(scaler.dynamic_scale) == pytest.approx(1e38 / 4)  # 2 skips
    assert int(gan.d_optimizer.iterations) == 0
    assert int(gan.optimizer.iterations) == 0

    gan = AlternatingGAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    gan.optimizer.dynamic_scale.assign(1.0)
    gan.optimizer.dynamic_growth_steps = 1  # grow after each finite step
    gan.fit(_points(32), batch_size=32, epochs=1, verbose=0)
    assert float(gan.optimizer.dynamic_scale) == 4.0  # D step, G step
    assert int(gan.d_optimizer.iterations) == int(gan.current_step()) == 1


# -- arguments --------------------------------------------------------------
@pytest.mark.parametrize("d_steps", [0, -1, 1.5, True, "2"])
def test_d_steps_must_be_a_positive_integer(d_steps):
    with pytest.raises(ValueError, match="d_steps"):
        AlternatingGAN(mlp_generator(), mlp_discriminator(), d_steps=d_steps)


def test_compile_takes_one_optimizer_per_network():
    gan = AlternatingGAN(mlp_generator(), mlp_discriminator())
    with pytest.raises(ValueError, match="d_optimizer"):
        gan.compile(optimizer="adam")
    adam = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two optimizer objects"):
        gan.compile(adam, adam)
    gan.compile()  # Su's RMSprop for both
    assert isinstance(gan.d_optimizer, keras.optimizers.RMSprop)
    assert isinstance(gan.g_optimizer, keras.optimizers.RMSprop)
    assert gan.d_optimizer is not gan.g_optimizer
