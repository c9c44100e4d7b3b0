"""Tests for kgan.sampling: truncated normals and drawing images."""

import math

import keras
import numpy as np
import pytest

from kgan.layers.latent_average import LatentAverage
from kgan.models.stylegan import stylegan_generator
from kgan.sampling import sample, truncated_normal


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _phi(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _identity_generator(z_dim=6, num_classes=None, latent_average=False):
    """A generator whose image is its input: `(z, label)` laid out as pixels.

    The label, if any, is embedded as its own value, so the image shows which
    label reached the model.
    """
    z = keras.Input(shape=(z_dim,), name="z")
    h = LatentAverage(name="w_average")(z) if latent_average else z
    inputs = z
    if num_classes is not None:
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        embedding = keras.layers.Embedding(
            num_classes,
            1,
            embeddings_initializer=keras.initializers.Constant(
                np.arange(num_classes, dtype="float32")[:, None]
            ),
        )
        h = keras.layers.Concatenate()([h, embedding(labels)])
        inputs = [z, labels]
    outputs = keras.layers.Reshape((1, 1, h.shape[-1]))(h)
    return keras.Model(inputs, outputs)


def _truncated_bin_probs(edges, threshold):
    mass = _cdf(threshold) - _cdf(-threshold)
    return np.array(
        [(_cdf(b) - _cdf(a)) / mass for a, b in zip(edges[:-1], edges[1:])]
    )


@pytest.mark.parametrize("threshold", [0.5, 1.5])
def test_truncated_normal_redraws_instead_of_clipping(threshold):
    values = truncated_normal((400, 100), threshold, seed=3)
    assert values.shape == (400, 100) and values.dtype == np.float32
    assert np.abs(values).max() <= threshold
    # Clipping would put P(|x| > t) of the mass (62% for t = 0.5) exactly on
    # +-t; redrawing leaves the edges no heavier than the truncated density.
    at_edge = np.mean(np.abs(values) >= np.float32(threshold) - 1e-6)
    assert at_edge < 1e-3
    edges = np.linspace(-threshold, threshold, 11)
    counts, _ = np.histogram(values, bins=edges)
    expected = _truncated_bin_probs(edges, threshold) * values.size
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 40.0  # 9 degrees of freedom: p < 1e-5 above 40
    # Variance of N(0, 1) truncated to [-t, t], computed independently.
    mass = _cdf(threshold) - _cdf(-threshold)
    variance = 1.0 - 2.0 * threshold * _phi(threshold) / mass
    assert values.var() == pytest.approx(variance, rel=0.02)
    assert values.mean() == pytest.approx(0.0, abs=0.01)


def test_truncated_normal_tiny_threshold_still_redraws():
    values = truncated_normal((2000,), 0.01, seed=0)
    assert np.abs(values).max() <= 0.01
    assert np.abs(values).mean() == pytest.approx(0.005, rel=0.1)


def test_truncated_normal_seeds():
    a = truncated_normal((5, 7), 1.0, seed=11)
    np.testing.assert_array_equal(a, truncated_normal((5, 7), 1.0, seed=11))
    assert not np.array_equal(a, truncated_normal((5, 7), 1.0, seed=12))


@pytest.mark.parametrize("threshold", [0, -1.0, float("nan"), "1", True])
def test_truncated_normal_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        truncated_normal((3,), threshold)


def test_sample_truncates_z_by_redrawing():
    g = _identity_generator(z_dim=50)
    z = sample(g, 200, truncation=0.5, seed=0, batch_size=64)
    assert z.shape == (200, 1, 1, 50) and z.dtype == np.float32
    assert np.abs(z).max() <= 0.5
    assert np.mean(np.abs(z) >= 0.5 - 1e-6) < 1e-3
    free = sample(g, 200, seed=0)
    assert np.abs(free).max() > 2.0  # no truncation without `truncation`


def test_sample_seed_and_batch_size():
    g = _identity_generator()
    a = sample(g, 10, seed=5, batch_size=3)
    np.testing.assert_array_equal(a, sample(g, 10, seed=5, batch_size=64))
    assert not np.array_equal(a, sample(g, 10, seed=6))
    assert not np.array_equal(sample(g, 10), sample(g, 10))


def test_sample_labels():
    g = _identity_generator(num_classes=4)
    out = sample(g, 5, labels=2, seed=0)
    np.testing.assert_array_equal(out[:, 0, 0, -1], np.full(5, 2.0))
    ids = np.array([3, 0, 1, 2, 3])
    out = sample(g, 5, labels=ids, seed=0)
    np.testing.assert_array_equal(out[:, 0, 0, -1], ids)
    out = sample(g, 5, labels=list(ids), seed=0, truncation=0.3)
    np.testing.assert_array_equal(out[:, 0, 0, -1], ids)
    assert np.abs(out[..., :-1]).max() <= 0.3


@pytest.mark.parametrize(
    "labels,match",
    [
        (None, "conditional.*labels=None"),
        (np.array([0, 1]), "length n=3"),
        (np.array([0.0, 1.0, 2.0]), "integer"),
        (np.array([[0, 1, 2]]), "1-D"),
        (-1, ">= 0"),
    ],
)
def test_sample_bad_labels(labels, match):
    g = _identity_generator(num_classes=4)
    with pytest.raises(ValueError, match=match):
        sample(g, 3, labels=labels)


def test_sample_labels_on_unconditional_generator():
    with pytest.raises(ValueError, match="unconditional"):
        sample(_identity_generator(), 3, labels=1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n=0), "n=0"),
        (dict(n=2, batch_size=0), "batch_size=0"),
        (dict(n=2, truncation=0.0), "truncation=0.0"),
        (dict(n=2, truncation=-1.0), "truncation=-1.0"),
    ],
)
def test_sample_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample(_identity_generator(), **kwargs)


def test_sample_psi_pulls_w_to_the_average_and_is_restored():
    g = _identity_generator(z_dim=40, latent_average=True)
    layer = g.get_layer("w_average")
    layer.average.assign(np.full(40, 3.0, "float32"))
    layer.truncation_psi.assign(0.8)
    z = sample(g, 100, seed=1)  # psi 0.8 of the model itself
    pulled = sample(g, 100, truncation=0.5, seed=1)
    # Back out the un-truncated z from the psi=0.8 run: z is not truncated
    # when psi is used, so |z| exceeds 1 somewhere.
    raw = 3.0 + (z - 3.0) / 0.8
    assert np.abs(raw).max() > 2.0
    np.testing.assert_allclose(pulled, 3.0 + 0.5 * (raw - 3.0), atol=1e-5)
    assert float(_np(layer.truncation_psi)) == pytest.approx(0.8)


def test_sample_restores_psi_when_the_generator_fails(monkeypatch):
    g = _identity_generator(latent_average=True)
    layer = g.get_layer("w_average")
    layer.truncation_psi.assign(0.9)

    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(g, "predict", fail)
    with pytest.raises(RuntimeError, match="boom"):
        sample(g, 2, truncation=0.1)
    assert float(_np(layer.truncation_psi)) == pytest.approx(0.9)


def test_sample_stylegan_psi_zero():
    g = stylegan_generator(
        image_size=16,
        z_dim=8,
        num_classes=3,
        base_channels=4,
        max_channels=8,
        mapping_layers=2,
        noise_injection=False,
    )
    rng = np.random.default_rng(0)
    for w in g.trainable_weights:
        w.assign(w + 0.3 * rng.normal(size=w.shape).astype("float32"))
    z = rng.normal(size=(32, 8)).astype("float32")
    g([z, rng.integers(0, 3, size=32).astype("int32")], training=True)
    free = sample(g, 4, labels=1, seed=0)
    assert free.shape == (4, 16, 16, 3)
    assert np.abs(free).max() <= 1.0
    assert np.abs(free[0] - free[1]).max() > 1e-3
    # The label reaches the synthesis network only through w, so psi = 0
    # gives the one average image whatever the class.
    same = sample(g, 4, labels=[0, 1, 2, 1], truncation=0.0, seed=0)
    for i in (1, 2, 3):
        np.testing.assert_allclose(same[0], same[i], atol=1e-5)
    assert float(_np(g.get_layer("w_average").truncation_psi)) == 1.0
    with pytest.raises(ValueError, match="truncation=nan"):
        sample(g, 2, labels=0, truncation=float("nan"))


def test_sample_mixed_precision_returns_float32():
    keras.config.set_dtype_policy("mixed_float16")
    g = _identity_generator()
    out = sample(g, 3, seed=0)
    assert out.dtype == np.float32 and out.shape == (3, 1, 1, 6)
