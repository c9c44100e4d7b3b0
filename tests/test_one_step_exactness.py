"""The single loss gives D exactly d_loss's gradient and G exactly lambda
times g_loss's, whichever formulation computes it (SPEC §3)."""

import numpy as np
import pytest
import tensorflow as tf
from gan_fixtures import mlp_discriminator, mlp_generator
from keras import ops

from kgan.training import OneStepGAN


def _snapshot(models):
    return [[v.numpy() for v in m.variables] for m in models]


def _restore(models, snapshot):
    for m, values in zip(models, snapshot):
        for v, value in zip(m.variables, values):
            v.assign(value)


def _single_loss_grads(gan, data):
    d_vars = gan.discriminator.trainable_variables
    g_vars = gan.generator.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        out = gan(data, training=True)
        if gan.active_formulation == "fused":
            d_total = gan.d_loss_of(out, None) + gan.shared_loss_of(out)
            g_total = gan.g_weight * gan.g_loss_of(out) + gan.shared_loss_of(
                out
            )
        else:
            d_total = g_total = gan.compute_loss(x=data, y_pred=out)
    grads = tape.gradient(d_total, d_vars) + tape.gradient(g_total, g_vars)
    return out["z"], [g.numpy() for g in grads]


def _reference_grads(gan, data, z, snapshot, d_calls_before_g_view):
    """d_loss and g_loss taped separately, D in the same state each time."""
    g, d, loss = gan.generator, gan.discriminator, gan.adversarial_loss
    _restore([g, d], snapshot)
    with tf.GradientTape() as tape:
        fake = g(z, training=True)
        real_scores = ops.mean(d(data, training=True), axis=-1)
        fake_scores = ops.mean(
            d(ops.stop_gradient(fake), training=True), axis=-1
        )
        d_loss = loss.d_loss(real_scores, fake_scores, data, fake)
    d_grads = tape.gradient(d_loss, d.trainable_variables)

    _restore([g, d], snapshot)
    with tf.GradientTape() as tape:
        fake = g(z, training=True)
        real_scores = ops.mean(d(data, training=True), axis=-1)
        for _ in range(d_calls_before_g_view - 1):
            d(ops.stop_gradient(fake), training=True)
        g_fake_scores = ops.mean(d(fake, training=True), axis=-1)
        g_loss = loss.g_loss(ops.stop_gradient(real_scores), g_fake_scores)
    g_grads = tape.gradient(g_loss, g.trainable_variables)
    return [x.numpy() for x in d_grads], [x.numpy() for x in g_grads]


CASES = [
    # (loss, formulation, D normalisation, D calls before G's view)
    ("hinge", "fused", None, 1),
    ("hinge", "frozen", None, 2),
    ("hinge", "literal", None, 2),
    ("ns", "fused", "batch", 1),
    ("ns", "frozen", "batch", 2),
    ("ns", "literal", "batch", 2),
    ("hinge", "fused", "spectral", 1),
    ("hinge", "frozen", "spectral", 2),
    ("lsgan", "frozen", "spectral", 2),
    ("wgan", "reversal", None, 1),
    ("wgan", "reversal", "batch", 1),
    ("wgan", "reversal", "spectral", 1),
    ("gan-qp", "fused", "batch", 1),
    ("ragan", "frozen", None, 2),
]


@pytest.mark.parametrize("loss,formulation,norm,d_calls", CASES)
@pytest.mark.parametrize("g_weight", [1.0, 0.5])
def test_gradients_equal_separately_taped_losses(
    loss, formulation, norm, d_calls, g_weight
):
    g = mlp_generator(batch_norm=True)
    d = mlp_discriminator(norm=norm)
    gan = OneStepGAN(
        g, d, loss=loss, g_weight=g_weight, formulation=formulation, seed=3
    )
    data = np.random.default_rng(0).uniform(-1, 1, (16, 2)).astype("float32")
    snapshot = _snapshot([g, d])
    z, grads = _single_loss_grads(gan, data)
    d_ref, g_ref = _reference_grads(gan, data, z, snapshot, d_calls)
    n_d = len(d.trainable_variables)
    for got, want in zip(grads[:n_d], d_ref):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for got, want in zip(grads[n_d:], g_ref):
        np.testing.assert_allclose(got, g_weight * want, rtol=1e-5, atol=1e-6)
    # A check that can fail: G's gradient is not zero.
    assert max(np.abs(x).max() for x in grads[n_d:]) > 0


def test_reversal_rejects_a_loss_that_is_not_zero_sum():
    gan = OneStepGAN(
        mlp_generator(),
        mlp_discriminator(),
        loss="hinge",
        formulation="reversal",
    )
    with pytest.raises(ValueError, match="zero-sum"):
        gan.active_formulation


def test_auto_picks_reversal_for_wgan_and_fused_otherwise():
    g, d = mlp_generator(), mlp_discriminator()
    assert OneStepGAN(g, d, loss="wgan").active_formulation == "reversal"
    assert OneStepGAN(g, d, loss="hinge").active_formulation == "fused"
