"""DiffAugment: each transform against numpy, and in every kgan trainer."""

import itertools

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check
from keras import layers, ops

from kgan.layers import DiffAugment
from kgan.layers.diff_augment import (
    brightness,
    contrast,
    cutout,
    saturation,
    translate,
)
from kgan.losses import GradientPenalty, R1Penalty
from kgan.losses.autodiff import input_gradients
from kgan.training import OGAN, AlternatingGAN, OneStepGAN

pytestmark = pytest.mark.jax

SIZE, CHANNELS, Z_DIM = 8, 3, 4
POLICY = "color,translation,cutout"
# SeedGenerator draws per augmentation call of the full policy: color 3,
# translation 2, cutout 2.
DRAWS = 7


def _np(x):
    return ops.convert_to_numpy(x)


def _images(n=16, size=SIZE, channels=CHANNELS, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, size, size, channels)).astype("float32")


# -- numpy references ---------------------------------------------------------
def ref_color(x, b, s, c):
    """Brightness, saturation, contrast with per-image (b, s, c)."""
    b, s, c = (np.reshape(v, (-1, 1, 1, 1)) for v in (b, s, c))
    x = x + b
    m_c = x.mean(-1, keepdims=True)
    x = (x - m_c) * s + m_c
    m = x.mean((1, 2, 3), keepdims=True)
    return (x - m) * c + m


def ref_translate(x, shift_h, shift_w):
    out = np.zeros_like(x)
    n, h, w, _ = x.shape
    for b in range(n):
        for i, j in itertools.product(range(h), range(w)):
            si, sj = i + shift_h[b], j + shift_w[b]
            if 0 <= si < h and 0 <= sj < w:
                out[b, i, j] = x[b, si, sj]
    return out


def ref_cutout(x, centre_h, centre_w, size_h, size_w):
    out = x.copy()
    for b in range(len(x)):
        top, left = centre_h[b] - size_h // 2, centre_w[b] - size_w // 2
        rows = slice(max(top, 0), max(top + size_h, 0))
        cols = slice(max(left, 0), max(left + size_w, 0))
        out[b, rows, cols] = 0
    return out


# -- the transforms with given parameters -------------------------------------
def test_color_transforms_match_numpy():
    x = _images(6)
    rng = np.random.default_rng(1)
    b = rng.uniform(-0.5, 0.5, 6).astype("float32")
    s = rng.uniform(0, 2, 6).astype("float32")
    c = rng.uniform(0.5, 1.5, 6).astype("float32")
    shaped = [v.reshape(-1, 1, 1, 1) for v in (b, s, c)]
    out = contrast(saturation(brightness(x, shaped[0]), shaped[1]), shaped[2])
    np.testing.assert_allclose(_np(out), ref_color(x, b, s, c), atol=1e-5)


@pytest.mark.parametrize("shape", [(5, 8, 8, 3), (3, 7, 5, 1)])
def test_translate_matches_numpy_for_every_shift(shape):
    x = _images(shape[0])[:, : shape[1], : shape[2], : shape[3]] + 2.0
    rng = np.random.default_rng(2)
    for _ in range(4):  # shifts beyond the image leave only zeros
        sh = rng.integers(-shape[1] - 1, shape[1] + 2, shape[0])
        sw = rng.integers(-shape[2] - 1, shape[2] + 2, shape[0])
        out = translate(x, sh.astype("int32"), sw.astype("int32"))
        np.testing.assert_array_equal(_np(out), ref_translate(x, sh, sw))


def test_cutout_matches_numpy_at_the_borders_too():
    x = _images(9) + 2.0
    for size_h, size_w in [(4, 4), (3, 5), (1, 1), (8, 8)]:
        centre_h = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])
        centre_w = centre_h[::-1].copy()
        out = cutout(x, centre_h, centre_w, size_h, size_w)
        np.testing.assert_array_equal(
            _np(out), ref_cutout(x, centre_h, centre_w, size_h, size_w)
        )


def test_gradients_are_the_transposed_transforms():
    # d/dx sum(w * T(x)): a translation's gradient is w shifted back, a
    # cutout's w with the square zeroed.
    x = _images(3)
    w = _images(3, seed=5)
    shift_h = np.array([1, -2, 0], "int32")
    shift_w = np.array([0, 3, -1], "int32")
    grads = input_gradients(
        lambda v: ops.sum(w * translate(v, shift_h, shift_w), (1, 2, 3)), x
    )
    np.testing.assert_allclose(
        _np(grads), ref_translate(w, -shift_h, -shift_w), atol=1e-6
    )
    centre = np.array([0, 4, 8], "int32")
    grads = input_gradients(
        lambda v: ops.sum(w * cutout(v, centre, centre, 4, 4), (1, 2, 3)), x
    )
    np.testing.assert_allclose(
        _np(grads), ref_cutout(w, centre, centre, 4, 4), atol=1e-6
    )


# -- the layer's random draws -------------------------------------------------
def test_color_is_brightness_saturation_contrast_in_range():
    # y = contrast(saturation(x + b)) identifies (b, s, c) per image: the
    # image mean moves by b, the channel means scale by c about it, and the
    # deviations from the channel means by c * s.
    x = _images(64)
    y = _np(DiffAugment("color", seed=3)(x, training=True))
    b = y.mean((1, 2, 3)) - x.mean((1, 2, 3))
    big_m = (x.mean((1, 2, 3)) + b)[:, None, None]
    c = np.array(
        [
            np.linalg.lstsq(
                (x[i].mean(-1) + b[i] - big_m[i]).reshape(-1, 1),
                (y[i].mean(-1) - big_m[i]).ravel(),
                rcond=None,
            )[0][0]
            for i in range(len(x))
        ]
    )
    dev_x = x - x.mean(-1, keepdims=True)
    dev_y = y - y.mean(-1, keepdims=True)
    cs = (dev_x * dev_y).sum((1, 2, 3)) / (dev_x**2).sum((1, 2, 3))
    s = cs / c
    assert np.all((b >= -0.5) & (b <= 0.5)) and np.ptp(b) > 0.5
    assert np.all((s >= 0) & (s <= 2)) and np.ptp(s) > 1
    assert np.all((c >= 0.5) & (c <= 1.5)) and np.ptp(c) > 0.5
    np.testing.assert_allclose(y, ref_color(x, b, s, c), atol=1e-4)


def test_translation_is_one_integer_shift_per_image_within_the_ratio():
    x = _images(64, size=16) + 2.0  # no zero pixel of its own
    layer = DiffAugment("translation", translation_ratio=0.125, seed=4)
    y = _np(layer(x, training=True))
    n = 2  # int(16 * 0.125 + 0.5)
    found = []
    for i in range(len(x)):
        xi, yi = x[i : i + 1], y[i : i + 1]
        matches = [
            (sh, sw)
            for sh, sw in itertools.product(range(-n, n + 1), repeat=2)
            if np.array_equal(yi, ref_translate(xi, [sh], [sw]))
        ]
        assert len(matches) == 1, (i, matches)
        found.append(matches[0])
    shifts_h, shifts_w = zip(*found)
    assert set(shifts_h) == set(shifts_w) == set(range(-n, n + 1))


@pytest.mark.parametrize("size,ratio", [(8, 0.5), (9, 0.3)])
def test_cutout_is_one_zero_square_of_the_official_size(size, ratio):
    x = _images(64, size=size) + 2.0
    y = _np(DiffAugment("cutout", cutout_ratio=ratio, seed=5)(x, training=True))
    side = int(size * ratio + 0.5)
    centres = range(size + 1 - side % 2)
    seen = set()
    for i in range(len(x)):
        xi, yi = x[i : i + 1], y[i : i + 1]
        matches = [
            (ch, cw)
            for ch, cw in itertools.product(centres, repeat=2)
            if np.array_equal(yi, ref_cutout(xi, [ch], [cw], side, side))
        ]
        assert len(matches) == 1, (i, matches)
        seen.update(matches[0])
    assert min(seen) == 0 and max(seen) == size - side % 2


def test_identity_at_inference_and_empty_policy():
    x = _images(4)
    layer = DiffAugment(seed=0)
    np.testing.assert_array_equal(_np(layer(x)), x)
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)
    empty = DiffAugment("")
    np.testing.assert_array_equal(_np(empty(x, training=True)), x)
    assert not np.allclose(_np(layer(x, training=True)), x)


def test_draws_are_seeded_and_fresh_on_each_call():
    x = _images(4)
    a, b = DiffAugment(seed=7), DiffAugment(seed=7)
    first = _np(a(x, training=True))
    np.testing.assert_array_equal(first, _np(b(x, training=True)))
    assert not np.allclose(first, _np(a(x, training=True)))


def test_policy_order_is_kept_and_bad_items_are_named():
    assert DiffAugment(" cutout, color ").transforms == ("cutout", "color")
    message = (
        r"^Unknown DiffAugment policy item 'zoom': valid items are 'color', "
        r"'translation', 'cutout'\. Received: policy='color,zoom'$"
    )
    with pytest.raises(ValueError, match=message):
        DiffAugment("color,zoom")
    with pytest.raises(ValueError, match=message):
        OneStepGAN(_generator(), _discriminator(), augment="color,zoom")
    with pytest.raises(ValueError, match="Received: cutout_ratio=1.5"):
        DiffAugment(cutout_ratio=1.5)
    with pytest.raises(ValueError, match="Received: augment=3"):
        OneStepGAN(_generator(), _discriminator(), augment=3)
    with pytest.raises(ValueError, match="known height and width"):
        DiffAugment()(np.zeros((2, 8, 3), "float32"), training=True)


def test_generic_layer_check(tmp_path):
    run_layer_check(
        DiffAugment,
        {
            "policy": "color,cutout",
            "translation_ratio": 0.25,
            "cutout_ratio": 0.25,
            "seed": 1,
        },
        [((2, 8, 8, 3), "float32")],
        (2, 8, 8, 3),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        tmp_path=tmp_path,
        fit=False,  # no weights to fit
    )


# -- in the trainers -------------------------------------------------------
def _generator(constant=False, seed=None):
    z = keras.Input((Z_DIM,))
    kwargs = {"kernel_initializer": keras.initializers.GlorotUniform(seed)}
    if constant:  # the same image for every z: tanh(bias)
        kwargs = {
            "kernel_initializer": "zeros",
            "bias_initializer": keras.initializers.RandomUniform(-2, 2),
        }
    x = layers.Dense(SIZE * SIZE * CHANNELS, activation="tanh", **kwargs)(z)
    return keras.Model(z, layers.Reshape((SIZE, SIZE, CHANNELS))(x))


def _discriminator(out_dim=1, linear=False, seed=None):
    x_in = keras.Input((SIZE, SIZE, CHANNELS))
    if linear:  # D(x) = sum(x)
        x = layers.Flatten()(x_in)
        out = layers.Dense(1, use_bias=False, kernel_initializer="ones")(x)
        return keras.Model(x_in, out)
    init = keras.initializers.GlorotUniform(seed)
    x = layers.Conv2D(4, 3, 2, "same", kernel_initializer=init)(x_in)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    return keras.Model(x_in, layers.Dense(out_dim, kernel_initializer=init)(x))


def _draws(layer):
    return int(_np(layer.seed_generator.state)[1])


def test_real_and_fake_draw_independent_augmentations():
    g = _generator(constant=True)
    real = np.repeat(_np(g(np.zeros((1, Z_DIM), "float32"))), 8, axis=0)
    codes = {}
    for augment in (None, "translation,cutout,color"):
        gan = OneStepGAN(g, _discriminator(), augment=augment, seed=0)
        out = gan(real, training=True)
        codes[augment] = [_np(out[k]) for k in ("real_codes", "fake_codes")]
    # Same images, same D: equal scores unless the two draws differ.
    np.testing.assert_allclose(*codes[None], atol=1e-5)
    real_codes, fake_codes = codes["translation,cutout,color"]
    assert np.all(np.abs(real_codes - fake_codes) > 1e-4)
    assert _draws(gan.augment) == 2 * DRAWS


def test_penalties_differentiate_through_the_augmentation():
    # D(x) = sum(x): without augmentation R1 = gamma/2 * H*W*C exactly.
    # Behind a cutout, grad_x D(T(x)) is zero on the square: R1 is smaller,
    # by a whole number of cut pixels times C.
    x = _images(16)
    full = SIZE * SIZE * CHANNELS
    values = {}
    for augment in (None, DiffAugment("cutout", cutout_ratio=0.5, seed=1)):
        gan = OneStepGAN(
            _generator(),
            _discriminator(linear=True),
            regularizers=[R1Penalty(gamma=2.0)],
            augment=augment,
        )
        values[augment is None] = float(gan.penalties(x, x, None))
    assert values[True] == pytest.approx(full)
    cut = (full - values[False]) / CHANNELS  # mean cut pixels per image
    assert 4 <= cut <= 16 and _draws(gan.augment) == 2


class _Mirror(layers.Layer):
    """A deterministic augmentation: each image mirrored left-right."""

    def call(self, images, training=None):
        return ops.flip(images, axis=2)


def test_gradients_reach_the_generator_through_the_augmentation():
    """SGD(1) on G alone: G's update is exactly minus the gradient of
    hinge's `-mean D(T(G(z)))` through the augmentation T, against a
    reference differentiated here (T a mirror, so the draw is known)."""
    from helpers import reference_losses as ref

    g, d = _generator(seed=3), _discriminator(seed=4)
    z = np.random.default_rng(5).normal(size=(8, Z_DIM)).astype("float32")

    def g_loss(augment):
        def forward():
            fake = augment(g(ops.convert_to_tensor(z), training=True))
            return {"g": -ops.mean(d(fake, training=True))}

        grads, _ = ref.gradients(
            forward, g.variables + d.variables, {"g": g.trainable_variables}
        )
        return grads["g"]

    mirrored = g_loss(lambda x: ops.flip(x, axis=2))
    plain = g_loss(lambda x: x)
    # The mirror matters: without it G would move otherwise.
    assert not all(
        np.allclose(a, b, atol=1e-6) for a, b in zip(plain, mirrored)
    )

    gan = OneStepGAN(g, d, augment=_Mirror(), seed=1)
    gan.sample_z = lambda batch_size: ops.convert_to_tensor(z)
    gan.compile(
        optimizer=keras.optimizers.SGD(0.0),
        g_optimizer=keras.optimizers.SGD(1.0),
    )
    before = [_np(v).copy() for v in g.trainable_variables]
    gan.fit(_images(8), batch_size=8, epochs=1, verbose=0)
    for v, old, grad in zip(g.trainable_variables, before, mirrored):
        np.testing.assert_allclose(_np(v), old - grad, rtol=1e-4, atol=1e-6)


def test_each_d_call_draws_its_own_augmentation():
    gan = OneStepGAN(_generator(), _discriminator(), augment=POLICY, seed=1)
    gan.compile(optimizer=keras.optimizers.SGD(0.0))
    gan.fit(_images(8), batch_size=8, epochs=1, verbose=0)
    assert _draws(gan.augment) == 2 * DRAWS  # the real batch, the fakes


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["onestep", "alternating", "ogan"])
def test_one_fit_step_with_augment_and_a_penalty(trainer):
    if trainer == "alternating":
        gan = AlternatingGAN(
            _generator(),
            _discriminator(),
            augment=POLICY,
            regularizers=[GradientPenalty()],
            seed=0,
        )
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        calls = 4  # D: real, fake, GP; G: fake
    elif trainer == "onestep":
        gan = OneStepGAN(
            _generator(),
            _discriminator(),
            augment=POLICY,
            regularizers=[GradientPenalty()],
            seed=0,
        )
        gan.compile(optimizer=keras.optimizers.Adam(1e-3))
        calls = 3  # real, fake (both views), GP
    else:
        gan = OGAN(
            _generator(), _discriminator(out_dim=Z_DIM), augment=POLICY, seed=0
        )
        gan.compile(optimizer=keras.optimizers.Adam(1e-3))
        calls = 2
    history = gan.fit(_images(8), batch_size=8, epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert _draws(gan.augment) == calls * DRAWS


@pytest.mark.slow
def test_trainer_with_augment_saves_reloads_and_continues(tmp_path):
    images = _images(16)

    def make():
        gan = OneStepGAN(_generator(), _discriminator(), augment=POLICY, seed=3)
        gan.compile(optimizer=keras.optimizers.Adam(1e-3))
        return gan

    gan = make()
    config = gan.get_config()
    rebuilt = OneStepGAN.from_config(config)
    assert rebuilt.augment.get_config() == gan.augment.get_config()
    assert rebuilt.get_config()["augment"] == config["augment"]

    gan.fit(images, batch_size=8, epochs=1, verbose=0, shuffle=False)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)  # safe_mode=True
    assert isinstance(reloaded.augment, DiffAugment)
    assert reloaded.augment.get_config() == gan.augment.get_config()
    np.testing.assert_array_equal(
        _np(reloaded.augment.seed_generator.state),
        _np(gan.augment.seed_generator.state),
    )
    gan.fit(images, batch_size=8, epochs=1, verbose=0, shuffle=False)
    reloaded.fit(images, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(gan.generator.weights, reloaded.generator.weights):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    "loss,formulation",
    [
        ("hinge", "fused"),
        ("wgan", "reversal"),
    ],
)
def test_formulations_take_the_same_step_with_augment(loss, formulation):
    # Both views of the fakes share one draw, and every formulation draws
    # in the same order: the one-step bracket still cancels in D.
    weights = []
    for form in ("literal", formulation):
        gan = OneStepGAN(
            _generator(seed=0),
            _discriminator(seed=1),
            loss=loss,
            formulation=form,
            regularizers=[R1Penalty(gamma=1.0)],
            augment=DiffAugment(POLICY, seed=2),
            seed=3,
        )
        gan.compile(optimizer=keras.optimizers.SGD(0.1))
        # Unshuffled: each image must meet the same draw in both runs.
        gan.fit(_images(8), batch_size=8, epochs=1, verbose=0, shuffle=False)
        weights.append([_np(v) for v in gan.trainable_variables])
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
