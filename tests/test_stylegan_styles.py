"""Per-layer styles, style mixing, truncation and the equalised learning
rate in the StyleGAN-form generator (the layers themselves:
test_style_mixing and test_equalized)."""

import os

import keras
import numpy as np
import pytest

from kgan.layers.adaptive_instance_normalization import (
    AdaptiveInstanceNormalization,
)
from kgan.layers.equalized_conv2d import EqualizedConv2D
from kgan.layers.equalized_dense import EqualizedDense
from kgan.layers.latent_resample import LatentResample
from kgan.layers.noise_injection import NoiseInjection
from kgan.layers.style_mixing import StyleMixing
from kgan.models.stylegan import stylegan_generator
from kgan.sampling import sample

pytestmark = pytest.mark.jax

TINY = dict(
    image_size=16,
    z_dim=8,
    base_channels=4,
    max_channels=8,
    mapping_layers=2,
    noise_injection=False,
)
NUM_LAYERS = 6  # two AdaIN layers per block at 4, 8 and 16 px
ALL_OPTIONS = dict(style_mixing=0.9, equalized_lr=True, num_classes=3)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _z(n, z_dim=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, z_dim)).astype("f4")


def _inputs(g, n, seed=0):
    z = _z(n, seed=seed)
    if len(g.inputs) == 1:
        return z
    return [z, np.arange(n, dtype="int32") % 3]


def _randomize(model, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(w + scale * rng.normal(size=w.shape).astype("float32"))


def _adains(model):
    return [
        layer
        for layer in model.layers
        if isinstance(layer, AdaptiveInstanceNormalization)
    ]


def _styles_probe(g):
    """Model `inputs -> [w before truncation, w, style of each AdaIN]`."""
    average = g.get_layer("w_average")
    styles = [layer.input[1] for layer in _adains(g)]
    return keras.Model(g.inputs, [average.input, average.output] + styles)


def _single_w_reference(g):
    """The generator before per-layer styles, rebuilt from `g`'s own layers:
    every AdaIN reads the one `w` (kgan's StyleGAN form until now)."""
    names = {layer.name for layer in g.layers}
    z = keras.Input(shape=g.inputs[0].shape[1:])
    h, inputs = z, z
    if "labels" in names:
        labels = keras.Input(shape=(), dtype="int32")
        inputs = [z, labels]
        embedded = g.get_layer("label_embedding")(labels)
        h = g.get_layer("z_and_label")([z, embedded])
    h = g.get_layer("z_pixel_norm")(h)
    i = 1
    while f"mapping_dense_{i}" in names:
        h = g.get_layer(f"mapping_dense_{i}")(h)
        h = g.get_layer(f"mapping_lrelu_{i}")(h)
        i += 1
    w = g.get_layer("w_average")(h)
    x = g.get_layer("const")(z)
    resolution = 4
    while f"block{resolution}_1_conv" in names:
        if resolution > 4:
            x = g.get_layer(f"block{resolution}_up")(x)
        for j in (1, 2):
            for part in ("conv", "noise", "lrelu"):
                if f"block{resolution}_{j}_{part}" in names:
                    x = g.get_layer(f"block{resolution}_{j}_{part}")(x)
            x = g.get_layer(f"block{resolution}_{j}_adain")([x, w])
        resolution *= 2
    x = g.get_layer("tanh")(g.get_layer("to_rgb")(x))
    return keras.Model(inputs, x)


# -- one w per AdaIN layer -------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"num_classes": 3}, ALL_OPTIONS],
    ids=["plain", "conditional", "all_options"],
)
def test_each_adain_reads_its_own_row_of_the_broadcast_w(options):
    g = stylegan_generator(**TINY, **options)
    _randomize(g)
    adains = _adains(g)
    assert len(adains) == NUM_LAYERS
    assert g.get_layer("w_broadcast").output.shape == (None, NUM_LAYERS, 8)
    rows = g.get_layer("w_per_layer").output
    assert len(rows) == NUM_LAYERS
    # AdaIN i is wired to row i, each to its own.
    for layer, row in zip(adains, rows):
        assert layer.input[1] is row
    _, w, *styles = _styles_probe(g)(_inputs(g, 4), training=False)
    for style in styles:
        np.testing.assert_array_equal(_np(style), _np(w))


@pytest.mark.parametrize(
    "options",
    [{}, {"num_classes": 3}, {"noise_injection": True}, ALL_OPTIONS],
    ids=["plain", "conditional", "noise", "all_options"],
)
def test_without_mixing_outputs_equal_the_single_w_generator(options):
    g = stylegan_generator(**{**TINY, **options})
    _randomize(g)
    reference = _single_w_reference(g)
    inputs = _inputs(g, 3)
    # The same NoiseInjection layers from the same seed states draw the same
    # noise: rewind them between the two calls.
    seed_states = [
        layer.seed_generator.state
        for layer in g.layers
        if isinstance(layer, NoiseInjection)
    ]
    modes = [False] if options.get("style_mixing") else [False, True]
    for training in modes:
        start = [_np(state).copy() for state in seed_states]
        out = _np(g(inputs, training=training))
        for state, value in zip(seed_states, start):
            state.assign(value)
        np.testing.assert_array_equal(
            out, _np(reference(inputs, training=training))
        )
    # Mixing adds no weights: the same weights serve with or without it.
    old_style = stylegan_generator(**{**TINY, **options, "style_mixing": 0})
    assert g.count_params() == old_style.count_params()


# -- style mixing ----------------------------------------------------------


@pytest.mark.parametrize("num_classes", [None, 3])
def test_generator_mixes_two_latents_in_training_only(num_classes):
    g = stylegan_generator(**TINY, style_mixing=1.0, num_classes=num_classes)
    _randomize(g)
    probe = _styles_probe(g)
    inputs = _inputs(g, 4)
    crossovers = set()
    for _ in range(12):
        _, w, *styles = (_np(t) for t in probe(inputs, training=True))
        same = [np.array_equal(s, w) for s in styles]
        k = same.index(False)
        crossovers.add(k)
        # Rows before the crossover are w, the rest one second latent's w.
        assert 1 <= k < NUM_LAYERS and all(same[:k]) and not any(same[k:])
        for s in styles[k + 1 :]:
            np.testing.assert_array_equal(s, styles[k])
        assert np.abs(styles[k] - w).min() > 0  # a different w per sample
    assert len(crossovers) > 1
    _, w, *styles = probe(inputs, training=False)
    for style in styles:
        np.testing.assert_array_equal(_np(style), _np(w))
    out = _np(g(inputs, training=True))
    assert out.shape == (4, 16, 16, 3) and np.isfinite(out).all()


# -- equalised learning rate ---------------------------------------------


def test_equalized_lr_swaps_the_layers_and_keeps_names_and_sizes():
    g = stylegan_generator(**TINY, equalized_lr=True, mapping_lr_multiplier=0.1)
    plain = stylegan_generator(**TINY)
    assert [layer.name for layer in g.layers] == [
        layer.name for layer in plain.layers
    ]
    assert g.count_params() == plain.count_params()
    kinds = (keras.layers.Dense, keras.layers.Conv2D)
    assert not [layer for layer in g.layers if isinstance(layer, kinds)]
    for i in (1, 2):
        dense = g.get_layer(f"mapping_dense_{i}")
        assert isinstance(dense, EqualizedDense)
        assert dense.lr_multiplier == 0.1
    convs = [layer for layer in g.layers if isinstance(layer, EqualizedConv2D)]
    assert len(convs) == NUM_LAYERS + 1
    assert all(conv.lr_multiplier == 1.0 for conv in convs)
    assert g.get_layer("to_rgb").gain == 1.0
    assert g.get_layer("block4_1_conv").gain == pytest.approx(2**0.5)
    out = _np(g(_z(4), training=False))
    assert np.isfinite(out).all() and out.std() > 1e-3


# -- truncation ------------------------------------------------------------


def test_truncation_reaches_every_row_and_sample():
    g = stylegan_generator(**TINY, **ALL_OPTIONS)
    _randomize(g)
    for seed in range(3):
        g(_inputs(g, 16, seed=seed), training=True)  # move the average of w
    average = _np(g.get_layer("w_average").average)
    assert np.abs(average).max() > 1e-3
    psi = g.get_layer("w_average").truncation_psi
    probe = _styles_probe(g)
    inputs = _inputs(g, 3)
    psi.assign(0.5)
    raw_w, _, *styles = (_np(t) for t in probe(inputs, training=False))
    expected = average + 0.5 * (raw_w - average)
    for style in styles:
        np.testing.assert_allclose(style, expected, rtol=1e-5, atol=1e-6)
    psi.assign(1.0)

    # Through kgan.sampling.sample: psi = 0 gives the one average image for
    # every latent and class; psi = 0.5 what the model gives with it set.
    same = sample(g, 4, labels=[0, 1, 2, 1], truncation=0.0, seed=0)
    for i in (1, 2, 3):
        np.testing.assert_allclose(same[0], same[i], atol=1e-5)
    half = sample(g, 3, labels=[0, 1, 2], truncation=0.5, seed=5)
    z = np.random.default_rng(5).standard_normal((3, 8), dtype=np.float32)
    psi.assign(0.5)
    manual = _np(g([z, np.array([0, 1, 2], "int32")], training=False))
    psi.assign(1.0)
    # predict (compiled) and an eager call round differently.
    np.testing.assert_allclose(half, manual, rtol=1e-4, atol=2e-5)
    free = sample(g, 3, labels=[0, 1, 2], seed=5)
    assert np.abs(free - half).max() > 1e-3
    assert float(_np(psi)) == 1.0


# -- saving, training, precision, arguments ------------------------------


def test_all_options_save_and_reload_in_safe_mode(tmp_path):
    g = stylegan_generator(**TINY, **ALL_OPTIONS)
    _randomize(g)
    inputs = _inputs(g, 4)
    g(inputs, training=True)  # non-zero running average of w
    g.get_layer("w_average").truncation_psi.assign(0.7)
    path = os.path.join(str(tmp_path), "g.keras")
    g.save(path)
    loaded = keras.models.load_model(path)  # safe_mode=True by default
    np.testing.assert_array_equal(
        _np(loaded(inputs, training=False)), _np(g(inputs, training=False))
    )
    for name, cls in [
        ("style_mixing", StyleMixing),
        ("mixing_latent", LatentResample),
        ("mapping_dense_1", EqualizedDense),
        ("block8_2_conv", EqualizedConv2D),
    ]:
        layer = loaded.get_layer(name)
        assert type(layer) is cls
        assert layer.get_config() == g.get_layer(name).get_config()
    assert loaded.get_layer("style_mixing").probability == 0.9
    assert loaded.get_layer("mapping_dense_2").lr_multiplier == 0.01
    out = _np(loaded(inputs, training=True))
    assert np.isfinite(out).all()

    noisy = stylegan_generator(
        **{**TINY, **ALL_OPTIONS, "noise_injection": True}
    )
    _randomize(noisy)
    noisy.save(path)
    loaded = keras.models.load_model(path)
    for a, b in zip(noisy.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_all_options_fit_a_step():
    """One compiled train step (a stateless jitted one on JAX) with mixing,
    noise and the equalised layers: finite, every weight moves, the seed
    states advance."""
    g = stylegan_generator(**{**TINY, **ALL_OPTIONS, "noise_injection": True})
    seeds = [
        g.get_layer(name).seed_generator.state
        for name in ("style_mixing", "mixing_latent", "block8_1_noise")
    ]
    before_seeds = [_np(v).copy() for v in seeds]
    before = [_np(v).copy() for v in g.trainable_variables]
    g.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    inputs = _inputs(g, 4)
    target = np.full((4, 16, 16, 3), 0.5, "float32")
    history = g.fit(inputs, target, batch_size=4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = [_np(v) for v in g.trainable_variables]
    assert all(not np.array_equal(a, b) for a, b in zip(after, before))
    for state, start in zip(seeds, before_seeds):
        assert not np.array_equal(_np(state), start)


def test_mixed_precision_with_all_options():
    keras.config.set_dtype_policy("mixed_float16")
    g = stylegan_generator(**TINY, **ALL_OPTIONS)
    for training in (True, False):
        out = g(_inputs(g, 2), training=training)
        assert keras.backend.standardize_dtype(out.dtype) == "float16"
        assert np.isfinite(_np(out)).all()
    assert g.get_layer("mapping_dense_1").kernel.dtype == "float32"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(style_mixing=1.5), "style_mixing=1.5"),
        (dict(style_mixing=-0.1), "style_mixing=-0.1"),
        (dict(style_mixing="0.5"), "style_mixing='0.5'"),
        (dict(equalized_lr="yes"), "equalized_lr='yes'"),
        (dict(mapping_lr_multiplier=0), "mapping_lr_multiplier=0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stylegan_generator(**{**TINY, **kwargs})
