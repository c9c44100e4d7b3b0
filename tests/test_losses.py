"""Adversarial loss pairs against numpy, zero-sum flags, registry, presets."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan.losses import _LOSSES as LOSS_REGISTRY
from kgan.losses import (
    LOSS_PRESETS,
    AdversarialLoss,
    GradientPenalty,
    R1Penalty,
    WGANDivPenalty,
    get_loss,
    get_preset,
    loss_names,
    register_loss,
)

pytestmark = pytest.mark.jax


def softplus(x):
    return np.logaddexp(0.0, x)


def relu(x):
    return np.maximum(x, 0.0)


def qp_dist(x_r, x_f):
    return ((x_r - x_f) ** 2).reshape(len(x_r), -1).mean(axis=1)


# Each reference: (d(s_r, s_f, x_r, x_f), g(s_r, s_f)), restated from the
# papers without reusing kgan code.
def reference(name, label_smoothing=0.0, lambda_=2.0):
    a = label_smoothing
    table = {
        "hinge": (
            lambda r, f, *_: relu(1 - r).mean() + relu(1 + f).mean(),
            lambda r, f: -f.mean(),
        ),
        "ns": (
            lambda r, f, *_: (
                ((1 - a) * softplus(-r) + a * softplus(r)).mean()
                + softplus(f).mean()
            ),
            lambda r, f: softplus(-f).mean(),
        ),
        "wgan": (lambda r, f, *_: f.mean() - r.mean(), lambda r, f: -f.mean()),
        "lsgan": (
            lambda r, f, *_: (
                0.5 * ((r - (1 - a)) ** 2).mean() + 0.5 * (f**2).mean()
            ),
            lambda r, f: 0.5 * ((f - 1) ** 2).mean(),
        ),
        "rsgan": (
            lambda r, f, *_: softplus(-(r - f)).mean(),
            lambda r, f: softplus(-(f - r)).mean(),
        ),
        "ragan": (
            lambda r, f, *_: (
                softplus(-(r - f.mean())) + softplus(f - r.mean())
            ).mean(),
            lambda r, f: (
                softplus(-(f - r.mean())) + softplus(r - f.mean())
            ).mean(),
        ),
        "gan-qp": (
            lambda r, f, xr, xf: (
                (r - f) + (r - f) ** 2 / (2 * lambda_ * qp_dist(xr, xf))
            ).mean(),
            lambda r, f: f.mean(),
        ),
        # Su's gan-qp scripts score real HIGH: with s' = -s, t = s'_r - s'_f,
        # d_norm = 10 * mean|x_r - x_f|, D minimises -t + 0.5 t^2 / d_norm.
        "gan-qp-l1": (
            lambda r, f, xr, xf: (
                -((-r) - (-f))
                + 0.5
                * ((-r) - (-f)) ** 2
                / (10 * np.abs(xr - xf).reshape(len(xr), -1).mean(axis=1))
            ).mean(),
            lambda r, f: f.mean(),
        ),
    }
    return table[name]


CASES = [
    ("hinge", {}, "hinge"),
    ("ns", {}, "ns"),
    ("non_saturating", {"label_smoothing": 0.1}, "ns"),
    ("wgan", {}, "wgan"),
    ("lsgan", {}, "lsgan"),
    ("lsgan", {"label_smoothing": 0.2}, "lsgan"),
    ("rsgan", {}, "rsgan"),
    ("ragan", {}, "ragan"),
    ("gan-qp", {}, "gan-qp"),
    ("gan_qp", {"lambda_": 0.5}, "gan-qp"),
    ("gan-qp-l1", {}, "gan-qp-l1"),
]


def random_batch(batch=6, seed=0):
    rng = np.random.default_rng(seed)
    s_r = rng.normal(size=batch).astype("float32") * 2
    s_f = rng.normal(size=batch).astype("float32") * 2
    x_r = rng.uniform(-1, 1, size=(batch, 4, 4, 3)).astype("float32")
    x_f = rng.uniform(-1, 1, size=(batch, 4, 4, 3)).astype("float32")
    return s_r, s_f, x_r, x_f


# One test per group, not per case: each test's teardown clears the Keras
# session, which costs about a second.
def test_pairs_match_numpy():
    s_r, s_f, x_r, x_f = random_batch()
    for name, kwargs, ref_name in CASES:
        loss = get_loss(name, **kwargs)
        ref_d, ref_g = reference(ref_name, **kwargs)
        d = loss.d_loss(s_r, s_f, real_images=x_r, fake_images=x_f)
        g = loss.g_loss(s_r, s_f)
        assert d.shape == () and g.shape == (), name
        np.testing.assert_allclose(
            d, ref_d(s_r, s_f, x_r, x_f), rtol=1e-5, err_msg=name
        )
        np.testing.assert_allclose(g, ref_g(s_r, s_f), rtol=1e-5, err_msg=name)


@pytest.mark.tensorflow_only
def test_label_smoothing_changes_only_the_real_term():
    s_r, s_f, _, _ = random_batch()
    plain = get_loss("ns").d_loss(s_r, s_f)
    smooth = get_loss("ns", label_smoothing=0.3).d_loss(s_r, s_f)
    extra = 0.3 * (softplus(s_r) - softplus(-s_r)).mean()
    np.testing.assert_allclose(smooth - plain, extra, rtol=1e-4, atol=1e-6)


def fake_score_grads(loss, s_r, s_f, x_r, x_f):
    s_f = tf.constant(s_f)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(s_f)
        d = loss.d_loss(s_r, s_f, real_images=x_r, fake_images=x_f)
        g = loss.g_loss(s_r, s_f)
    return tape.gradient(d, s_f).numpy(), tape.gradient(g, s_f).numpy()


NAMES = ["hinge", "ns", "wgan", "lsgan", "rsgan", "ragan", "gan-qp"]


@pytest.mark.tensorflow_only
def test_zero_sum_flag_matches_the_gradients():
    batch = random_batch(seed=3)
    for name in NAMES:
        loss = get_loss(name)
        grad_d, grad_g = fake_score_grads(loss, *batch)
        reversed_exactly = np.allclose(grad_g, -grad_d, atol=1e-7)
        assert loss.zero_sum == reversed_exactly, name
        assert loss.zero_sum == (name == "wgan"), name


def test_real_scores_high_is_the_convention_d_prefers():
    # A D that follows its convention must have a lower loss than one that
    # flips it, and G's loss must then be higher (G is losing).
    _, _, x_r, x_f = random_batch()
    for name in NAMES:
        loss = get_loss(name)
        high, low = np.full(6, 2.0, "float32"), np.full(6, -2.0, "float32")
        if not loss.real_scores_high:
            high, low = low, high
        right = loss.d_loss(high, low, real_images=x_r, fake_images=x_f)
        wrong = loss.d_loss(low, high, real_images=x_r, fake_images=x_f)
        assert float(right) < float(wrong), name
        assert float(loss.g_loss(high, low)) > float(loss.g_loss(low, high)), (
            name
        )
        assert loss.real_scores_high == (name != "gan-qp"), name


def test_gan_qp_needs_images():
    s_r, s_f, x_r, _ = random_batch()
    with pytest.raises(ValueError, match="needs the images.*fake_images=None"):
        get_loss("gan-qp").d_loss(s_r, s_f, real_images=x_r)
    # G's loss needs no images.
    np.testing.assert_allclose(get_loss("gan-qp").g_loss(s_r, s_f), s_f.mean())


def test_gan_qp_l2_distance_and_a_bad_distance():
    s_r, s_f, x_r, x_f = random_batch()
    loss = get_loss("gan-qp", lambda_=10.0, distance="l2")
    d = loss.d_loss(s_r, s_f, real_images=x_r, fake_images=x_f)
    norm = np.sqrt(((x_r - x_f) ** 2).reshape(len(x_r), -1).mean(axis=1))
    t = s_r - s_f
    np.testing.assert_allclose(d, (t + t**2 / (20 * norm)).mean(), rtol=1e-5)
    with pytest.raises(ValueError, match=r"`distance` must be one of"):
        get_loss("gan-qp", distance="l3")


def test_gan_qp_guards_identical_images():
    s_r, s_f, x_r, _ = random_batch()
    d = get_loss("gan-qp").d_loss(s_r, s_f, real_images=x_r, fake_images=x_r)
    assert np.isfinite(float(d))


def test_mixed_precision_scores_give_float32_losses():
    keras.config.set_dtype_policy("mixed_float16")
    s_r, s_f, x_r, x_f = random_batch()
    for name in ["ns", "gan-qp"]:
        loss = get_loss(name)
        d = loss.d_loss(
            s_r.astype("float16"),
            s_f.astype("float16"),
            real_images=x_r.astype("float16"),
            fake_images=x_f.astype("float16"),
        )
        assert keras.backend.standardize_dtype(d.dtype) == "float32"
        g = loss.g_loss(s_r.astype("float16"), s_f.astype("float16"))
        assert keras.backend.standardize_dtype(g.dtype) == "float32"
    # softplus of a large float16 score would overflow if computed in float16.
    big = np.full(4, 60000.0, "float16")
    assert np.isfinite(float(get_loss("ns").d_loss(-big, big)))


@pytest.mark.tensorflow_only
def test_losses_trace_with_unknown_batch():
    loss = get_loss("gan-qp")
    spec = tf.TensorSpec((None,), "float32")
    image_spec = tf.TensorSpec((None, 4, 4, 3), "float32")

    @tf.function(input_signature=[spec, spec, image_spec, image_spec])
    def d_loss(s_r, s_f, x_r, x_f):
        return loss.d_loss(s_r, s_f, real_images=x_r, fake_images=x_f)

    s_r, s_f, x_r, x_f = random_batch()
    ref_d, _ = reference("gan-qp")
    np.testing.assert_allclose(
        d_loss(s_r, s_f, x_r, x_f), ref_d(s_r, s_f, x_r, x_f), rtol=1e-5
    )


@pytest.mark.parametrize(
    "name,kwargs,ref_name", [CASES[2], CASES[9], CASES[10]]
)
def test_serialization_round_trip(name, kwargs, ref_name):
    # The cases with options: their d function is a `functools.partial`.
    loss = get_loss(name, **kwargs)
    config = keras.saving.serialize_keras_object(loss)
    assert config["registered_name"] == "kgan>AdversarialLoss"
    revived = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(config))
    )
    assert isinstance(revived, AdversarialLoss)
    assert revived.get_config() == loss.get_config()
    s_r, s_f, x_r, x_f = random_batch()
    for obj in (loss, revived):
        np.testing.assert_allclose(
            obj.d_loss(s_r, s_f, real_images=x_r, fake_images=x_f),
            reference(ref_name, **kwargs)[0](s_r, s_f, x_r, x_f),
            rtol=1e-5,
        )
    for attribute in ("zero_sum", "real_scores_high", "name"):
        assert getattr(revived, attribute) == getattr(loss, attribute)


def test_get_loss_returns_an_instance_as_is():
    loss = get_loss("hinge")
    assert get_loss(loss) is loss
    with pytest.raises(ValueError, match="not to an `AdversarialLoss`"):
        get_loss(loss, label_smoothing=0.1)


def user_d(real_scores, fake_scores):
    return keras.ops.mean(fake_scores - 2.0 * real_scores)


def user_g(real_scores, fake_scores):
    return -keras.ops.mean(fake_scores)


def test_get_loss_accepts_a_pair_of_callables():
    loss = get_loss((user_d, user_g), zero_sum=True, name="mine")
    s_r, s_f, x_r, x_f = random_batch()
    # A two-argument d function is called without the images.
    d = loss.d_loss(s_r, s_f, real_images=x_r, fake_images=x_f)
    np.testing.assert_allclose(d, (s_f - 2 * s_r).mean(), rtol=1e-5)
    np.testing.assert_allclose(loss.g_loss(s_r, s_f), -s_f.mean(), rtol=1e-5)
    assert loss.zero_sum and loss.name == "mine"


def test_get_loss_errors():
    unknown = r"Unknown adversarial loss 'hing'.*'hinge', 'ns'.*'gan-qp'"
    with pytest.raises(ValueError, match=unknown):
        get_loss("hing")
    options = r"takes the options \[\].*\['label_smoothing'\]"
    with pytest.raises(ValueError, match=options):
        get_loss("hinge", label_smoothing=0.1)
    with pytest.raises(ValueError, match=r"label_smoothing=1.0"):
        get_loss("ns", label_smoothing=1.0)
    with pytest.raises(ValueError, match=r"lambda_=0"):
        get_loss("gan-qp", lambda_=0)
    with pytest.raises(ValueError, match="Received: identifier=3"):
        get_loss(3)
    with pytest.raises(ValueError, match="`g_loss` must be callable"):
        AdversarialLoss(user_d, "nope")


def test_register_loss(monkeypatch):
    monkeypatch.setattr(
        "kgan.losses._LOSSES", dict(LOSS_REGISTRY), raising=True
    )

    def doubled_wgan(scale=2.0):
        def d_fn(real_scores, fake_scores):
            return scale * keras.ops.mean(fake_scores - real_scores)

        return AdversarialLoss(d_fn, user_g, name="doubled", zero_sum=True)

    register_loss("doubled", doubled_wgan)
    assert "doubled" in loss_names()
    s_r, s_f, _, _ = random_batch()
    loss = get_loss("doubled", scale=3.0)
    np.testing.assert_allclose(
        loss.d_loss(s_r, s_f), 3 * (s_f - s_r).mean(), rtol=1e-5
    )
    with pytest.raises(ValueError, match="already registered as 'hinge'"):
        register_loss("hinge", doubled_wgan)
    register_loss("hinge", doubled_wgan, overwrite=True)
    assert get_loss("hinge").name == "doubled"
    with pytest.raises(ValueError, match="`factory` must be callable"):
        register_loss("x", 3)


def test_presets():
    loss, regularizers = get_preset("wgan-gp")
    assert loss.name == "wgan" and loss.zero_sum
    assert len(regularizers) == 1
    assert isinstance(regularizers[0], GradientPenalty)
    assert regularizers[0].weight == 10.0
    # Copies: changing one preset's regulariser leaves the template alone.
    regularizers[0].weight = 1.0
    assert LOSS_PRESETS["wgan-gp"][1].weight == 10.0
    assert isinstance(get_preset("wgan-div")[1][0], WGANDivPenalty)
    loss, regularizers = get_preset("r1")
    assert loss.name == "ns" and isinstance(regularizers[0], R1Penalty)
    for name in ["hinge", "ns", "wgan", "lsgan", "rsgan", "ragan", "gan-qp"]:
        loss, regularizers = get_preset(name)
        assert loss.name == name and regularizers == []
    unknown = r"Unknown loss preset 'wgan-lp'.*'r1', 'wgan-div', 'wgan-gp'"
    with pytest.raises(ValueError, match=unknown):
        get_preset("wgan-lp")
