"""O-GAN (arXiv 1903.01931): the loss against numpy, z_corr rising,
encode/rebuild."""

import keras
import numpy as np
import pytest
from helpers.gan_fixtures import (
    mlp_discriminator,
    mlp_generator,
    ring_of_gaussians,
)
from keras import ops

from kgan.training import OGAN

Z_DIM = 4

pytestmark = pytest.mark.jax


def _pearson(a, b):
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def _make(formulation="auto", corr_weight=0.5):
    g = mlp_generator(z_dim=Z_DIM, hidden=32)
    d = mlp_discriminator(hidden=32, out_dim=Z_DIM)
    return OGAN(g, d, corr_weight=corr_weight, formulation=formulation, seed=2)


@pytest.mark.parametrize("corr_weight", [0.5, 1.0])
def test_loss_value_is_su_formula(corr_weight):
    gan = _make("literal", corr_weight)
    data = ring_of_gaussians(32)[0]
    out = gan(data, training=True)
    loss = float(gan.compute_loss(x=data, y_pred=out))
    n = {k: ops.convert_to_numpy(v) for k, v in out.items()}
    t1 = n["real_codes"].mean(-1) - n["fake_codes"].mean(-1)
    dist = ((n["real_images"] - n["fake_images"]) ** 2).mean(-1)
    qp = 0.25 * t1**2 / dist
    corr = _pearson(n["z"], n["g_fake_codes"])
    # t2 = avg e(G(z)) - avg e(sg G(z)) is zero in value.
    expected = np.mean(t1 - corr_weight * corr) + np.mean(qp)
    np.testing.assert_allclose(loss, expected, rtol=1e-4, atol=1e-5)


def test_fused_and_literal_give_the_same_step():
    data = ring_of_gaussians(64)[0]
    results = []
    for formulation in ("literal", "fused"):
        keras.utils.set_random_seed(0)
        gan = _make(formulation)
        gan.compile(optimizer=keras.optimizers.SGD(0.05))
        history = gan.fit(data, batch_size=32, epochs=1, verbose=0,
                          shuffle=False)  # fmt: skip
        results.append(
            (
                [
                    keras.ops.convert_to_numpy(v)
                    for v in gan.trainable_variables
                ],
                history.history,
            )
        )
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for key in ("loss", "z_corr", "d_loss"):
        np.testing.assert_allclose(
            results[0][1][key], results[1][1][key], rtol=1e-4, atol=1e-6
        )


def _z_corr(gan, n=256):
    z = np.random.default_rng(9).normal(size=(n, Z_DIM)).astype("float32")
    codes = gan.discriminator.predict(gan.generator.predict(z, verbose=0),
                                      verbose=0)  # fmt: skip
    return _pearson(z, codes).mean()


@pytest.mark.slow
def test_z_corr_rises_and_the_encoder_reconstructs():
    keras.utils.set_random_seed(0)
    gan = _make()
    gan.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = _z_corr(gan)
    data = ring_of_gaussians(64 * 150)[0]
    history = gan.fit(data, batch_size=64, epochs=3, verbose=0)
    z_corr = history.history["z_corr"]
    assert z_corr[-1] > z_corr[0], z_corr
    after = _z_corr(gan)
    assert abs(before) < 0.3 and after > 0.6, (before, after)
    codes = gan.encode(data[:16])
    assert codes.shape == (16, Z_DIM)
    rebuilt = gan.reconstruct(data[:16])
    assert rebuilt.shape == (16, 2) and np.abs(rebuilt).max() <= 1


def test_discriminator_must_output_z_dim_codes():
    g = mlp_generator(z_dim=Z_DIM)
    with pytest.raises(ValueError, match="z_dim=4"):
        OGAN(g, mlp_discriminator(out_dim=1))


def test_reversal_is_refused_gan_qp_is_not_zero_sum():
    with pytest.raises(ValueError, match="zero-sum"):
        _make("reversal")
