"""O-GAN (arXiv 1903.01931): one step of `OGAN.fit` is one SGD step on
Su's loss.

The reference is Su's `o_gan_celeba.py` loss written out by hand in
`reference_losses.ogan_loss` (Keras' `l2_normalize` in the correlation),
differentiated as ONE loss w.r.t. every weight of G and D at once. Also:
OGAN refuses arguments it cannot honour, and a saved OGAN reloads (safe
mode) and trains on, with each way of compiling it.
"""

import keras
import numpy as np
import pytest
from helpers import reference_losses as ref
from helpers.gan_fixtures import mlp_discriminator, mlp_generator
from keras import ops

from kgan.training import OGAN

Z_DIM = 4
BATCH = 16
LR = 0.01
CORR_WEIGHT = 0.5
RTOL, ATOL = 1e-5, 1e-7
# Scale of D's last kernel: its codes e(x) start ~1e-4, as a freshly
# initialised conv D's do, where an epsilon inside the correlation's sqrt
# would no longer be negligible.
CODE_SCALE = 1e-3
TF = keras.backend.backend() == "tensorflow"


def _models():
    g = mlp_generator(z_dim=Z_DIM)
    d = mlp_discriminator(out_dim=Z_DIM)  # no BN: one example, one code
    kernel = d.layers[-1].kernel
    kernel.assign(kernel * CODE_SCALE)
    return g, d


def _batch():
    rng = np.random.default_rng(0)
    data = rng.uniform(-1, 1, (BATCH, 2)).astype("float32")
    z = rng.normal(size=(BATCH, Z_DIM)).astype("float32")
    return data, z


def _epsilon_in_sqrt(x, y, epsilon=1e-8):
    """A Pearson correlation with `sqrt(sum x^2 + eps)`: NOT Su's."""
    x = x - ops.mean(x, axis=1, keepdims=True)
    y = y - ops.mean(y, axis=1, keepdims=True)
    x = x / ops.sqrt(ops.sum(ops.square(x), 1, keepdims=True) + epsilon)
    y = y / ops.sqrt(ops.sum(ops.square(y), 1, keepdims=True) + epsilon)
    return ops.sum(x * y, axis=1)


def reference_deltas(g, d, data, z, correlation_fn=ref.correlation):
    """`-LR * grad L` for every trainable weight (D's, then G's), with L
    Su's single loss and D called as his code does: real, sg fake, fake."""
    data, z = ops.convert_to_tensor(data), ops.convert_to_tensor(z)

    def forward():
        fake = g(z, training=True)
        fake_ng = ops.stop_gradient(fake)
        e_real = d(data, training=True)
        e_fake_ng = d(fake_ng, training=True)
        e_fake = d(fake, training=True)
        loss = ref.ogan_loss(
            z,
            data,
            fake_ng,
            e_real,
            e_fake_ng,
            e_fake,
            CORR_WEIGHT,
            correlation_fn,
        )
        return {"L": loss}

    weights = d.trainable_variables + g.trainable_variables
    grads, _ = ref.gradients(forward, d.variables + g.variables, {"L": weights})
    return [-LR * grad for grad in grads["L"]]


FORMULATIONS = [
    None,  # the default
    "literal",
    "fused",
]


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_one_step_is_sgd_on_su_single_loss(formulation):
    """Every weight moves by `-lr * grad` of Su's O-GAN loss (l2_normalize
    correlation), under each formulation OGAN offers."""
    g, d = _models()
    data, z = _batch()
    expected = reference_deltas(g, d, data, z)

    # Guard: at these tiny codes an epsilon inside the sqrt changes the
    # step far beyond the tolerance, so this test tells the two apart.
    wrong = reference_deltas(g, d, data, z, _epsilon_in_sqrt)
    worst = max(
        np.max(np.abs(a - b) / (ATOL + RTOL * np.abs(b)))
        for a, b in zip(wrong, expected)
    )
    assert worst > 100

    kwargs = {} if formulation is None else {"formulation": formulation}
    gan = OGAN(g, d, corr_weight=CORR_WEIGHT, seed=0, **kwargs)
    gan.sample_z = lambda batch_size: ops.convert_to_tensor(z)
    gan.compile(optimizer=keras.optimizers.SGD(learning_rate=LR))
    weights = d.trainable_variables + g.trainable_variables
    before = ref.snapshot(weights)
    gan.fit(data, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    deltas = [a - b for a, b in zip(ref.snapshot(weights), before)]
    for v, got, want in zip(weights, deltas, expected):
        np.testing.assert_allclose(
            got, want, rtol=RTOL, atol=ATOL, err_msg=v.path
        )
    g_deltas = deltas[len(d.trainable_variables) :]
    assert max(np.abs(x).max() for x in g_deltas) > 1e-5


@pytest.mark.parametrize("argument", [{"loss": "hinge"}, {"g_weight": 2.0}])
def test_refuses_arguments_it_cannot_honour(argument):
    """O-GAN's loss is GAN-QP with generator weight 1: OGAN must refuse
    another `loss` or `g_weight` instead of silently ignoring it."""
    g, d = _models()
    with pytest.raises(ValueError):
        OGAN(g, d, **argument)


COMPILES = {
    "sgd": {},
    "ema": {"ema_momentum": 0.99},
    "ttur": {"g_optimizer": "adam"},
}


@pytest.mark.slow
@pytest.mark.parametrize("how", sorted(COMPILES))
def test_save_load_and_train_on(tmp_path, how):
    """`save` then `keras.models.load_model` (safe mode) gives an OGAN that
    trains on: with plain SGD, with a generator EMA, and with its own
    generator optimizer (TTUR). The reloaded trainer's next step is the
    original's."""

    def compile_(gan):
        kwargs = dict(COMPILES[how])
        if "g_optimizer" in kwargs:
            kwargs["g_optimizer"] = keras.optimizers.Adam(1e-3)
        gan.compile(optimizer=keras.optimizers.SGD(LR), **kwargs)

    g, d = _models()
    data, _ = _batch()
    gan = OGAN(g, d, corr_weight=CORR_WEIGHT, seed=0)
    compile_(gan)
    gan.fit(data, batch_size=8, epochs=1, shuffle=False, verbose=0)
    path = str(tmp_path / "ogan.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)

    assert isinstance(reloaded, OGAN)
    assert reloaded.corr_weight == CORR_WEIGHT
    for a, b in zip(gan.variables, reloaded.variables):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(a), ops.convert_to_numpy(b), err_msg=a.path
        )
    results = []
    for model in (gan, reloaded):
        history = model.fit(
            data, batch_size=8, epochs=1, shuffle=False, verbose=0
        )
        assert np.isfinite(history.history["loss"][-1])
        results.append(ref.snapshot(model.trainable_variables))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
