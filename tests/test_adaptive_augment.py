"""ADA's adaptive probability on DiffAugment: the gate, the heuristic's
step against an independent loop, and the trainers that feed it."""

import keras
import numpy as np
import pytest
from helpers.script_helpers import script_module, script_stops
from keras import layers, ops

from kgan import cli, recipes
from kgan.layers import DiffAugment
from kgan.losses import AdversarialLoss, get_loss, hinge_d, hinge_g
from kgan.training import OGAN, AlternatingGAN, OneStepGAN

pytestmark = pytest.mark.jax

SIZE, CHANNELS, Z_DIM = 8, 1, 4


def _np(x):
    return ops.convert_to_numpy(x)


def _draws(layer):
    return int(_np(layer.seed_generator.state)[1])


# -- the gate: each transform on each image with probability p --------------
def test_probability_gates_each_image_independently():
    ones = np.ones((4000, SIZE, SIZE, CHANNELS), "float32")
    augment = DiffAugment("cutout", probability=0.3, seed=0)
    out = _np(augment(ones, training=True))
    cut = (out == 0).any(axis=(1, 2, 3))
    # Every image is untouched or cut (never half of each): 4 x 4 squares.
    assert np.all(out[~cut] == 1)
    assert np.all((out[cut] == 0).sum(axis=(1, 2, 3)) >= 1)
    # Binomial(4000, 0.3): standard deviation 0.0072 of the share.
    assert abs(cut.mean() - 0.3) < 0.03
    assert _draws(augment) == 3  # cutout's two draws and the gate's


def test_probability_zero_is_the_identity_and_one_draws_no_gate():
    x = np.random.default_rng(0).uniform(-1, 1, (16, SIZE, SIZE, 3))
    x = x.astype("float32")
    never = DiffAugment("color,translation,cutout", probability=0.0, seed=1)
    np.testing.assert_array_equal(_np(never(x, training=True)), x)
    always = DiffAugment("color,translation,cutout", seed=1)
    always(x, training=True)
    # DiffAugment's own rule: the 7 draws of its transforms, no gate.
    assert _draws(always) == 7 and _draws(never) == 7 + 5


# -- the heuristic -----------------------------------------------------------
def ada_reference(batches, target, interval, adjust_images, p=0.0):
    """ADA's training_loop.py rule, written out: `p` after each batch."""
    history, gathered = [], []
    for signs in batches:
        gathered.extend(signs)
        if len(gathered) == interval * len(signs):
            r_t = np.mean(gathered)
            p += np.sign(r_t - target) * len(gathered) / adjust_images
            p = min(max(p, 0.0), 1.0)
            gathered = []
        history.append(p)
    return history


def test_update_probability_follows_ada_s_rule():
    rng = np.random.default_rng(0)
    # Batches whose verdicts drift from mostly fake to mostly real, so p
    # falls (clipped at 0), then rises, then falls again.
    shares = [0.1] * 6 + [0.95] * 12 + [0.3] * 9
    batches = [np.where(rng.uniform(size=8) < s, 1.0, -1.0) for s in shares]
    augment = DiffAugment(target=0.6, adjust_images=96, adjust_interval=3)
    assert float(_np(augment.probability)) == 0.0  # ADA starts at 0
    got = []
    for signs in batches:
        r_t = augment.update_probability(signs.astype("float32"))
        got.append(float(_np(augment.probability)))
    expected = ada_reference(batches, 0.6, 3, 96)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # The run moved p both ways, and was clipped at 0.
    assert expected[5] == 0.0 and max(expected) >= 0.5 > expected[-1]
    assert float(_np(r_t)) == pytest.approx(np.mean(batches[-3:]))


def test_batch_size_counts_the_images_the_signs_stand_for():
    augment = DiffAugment(
        target=0.0, probability=0.5, adjust_images=100, adjust_interval=1
    )
    augment.update_probability(np.ones(4, "float32"), batch_size=20)
    assert float(_np(augment.probability)) == pytest.approx(0.7)


def test_bad_adaptive_settings_are_named():
    with pytest.raises(ValueError, match=r"`target` must be a number in"):
        DiffAugment(target=1.0)
    with pytest.raises(ValueError, match="`adjust_images` must be a posit"):
        DiffAugment(target=0.6, adjust_images=0)
    with pytest.raises(ValueError, match=r"`probability` must be a number"):
        DiffAugment(probability=1.5)
    with pytest.raises(ValueError, match="needs an adaptive DiffAugment"):
        DiffAugment().update_probability(np.ones(2, "float32"))


def test_adaptive_config_round_trips_and_p_is_saved(tmp_path):
    augment = DiffAugment(
        "translation", target=0.5, adjust_images=10, adjust_interval=1
    )
    assert len(augment.non_trainable_weights) == 3  # p, signs, batches
    rebuilt = DiffAugment.from_config(augment.get_config())
    assert rebuilt.get_config() == augment.get_config()
    augment.update_probability(np.ones(4, "float32"))
    x_in = keras.Input((SIZE, SIZE, CHANNELS))
    model = keras.Model(x_in, augment(x_in))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path).layers[-1]
    assert float(_np(loaded.probability)) == pytest.approx(0.4)


# -- the losses' verdicts ----------------------------------------------------
def test_verdicts_read_each_loss_s_threshold_and_sign():
    scores = np.array([-0.5, 0.2, 0.45, 0.55, 2.0], "float32")
    cases = {
        "hinge": [-1, 1, 1, 1, 1],
        "ns": [-1, 1, 1, 1, 1],
        "lsgan": [-1, -1, -1, 1, 1],  # targets 0 and 1: undecided at 0.5
    }
    for name, expected in cases.items():
        np.testing.assert_array_equal(
            _np(get_loss(name).verdicts(scores)), expected
        )
    smoothed = get_loss("lsgan", label_smoothing=0.2)  # targets 0, 0.8
    np.testing.assert_array_equal(
        _np(smoothed.verdicts(scores)), [-1, -1, 1, 1, 1]
    )
    low = AdversarialLoss(
        hinge_d, hinge_g, real_scores_high=False, decision_threshold=0.0
    )
    np.testing.assert_array_equal(
        _np(low.verdicts(scores)), [1, -1, -1, -1, -1]
    )
    config = low.get_config()
    assert AdversarialLoss.from_config(config).decision_threshold == 0.0
    for name in ("wgan", "rsgan", "ragan", "gan-qp"):
        assert get_loss(name).decision_threshold is None
        with pytest.raises(ValueError, match="no `decision_threshold`"):
            get_loss(name).verdicts(scores)


# -- in the trainers ---------------------------------------------------------
def _generator():
    z = keras.Input((Z_DIM,))
    x = layers.Dense(SIZE * SIZE * CHANNELS, activation="tanh")(z)
    return keras.Model(z, layers.Reshape((SIZE, SIZE, CHANNELS))(x))


def _constant_discriminator(score):
    """D(x) = score for every image (its weights stay put under SGD(0))."""
    x_in = keras.Input((SIZE, SIZE, CHANNELS))
    x = layers.Flatten()(x_in)
    out = layers.Dense(
        1,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(score),
    )(x)
    return keras.Model(x_in, out)


def _adaptive_gan(trainer, score, probability=None, loss="hinge"):
    augment = DiffAugment(
        "translation,cutout",
        probability=probability,
        target=0.6,
        adjust_images=80,
        adjust_interval=2,
        seed=1,
    )
    g, d = _generator(), _constant_discriminator(score)
    if trainer == "alternating":
        gan = AlternatingGAN(g, d, loss=loss, augment=augment, seed=0)
        gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))
    else:
        gan = OneStepGAN(g, d, loss=loss, augment=augment, seed=0)
        gan.compile(optimizer=keras.optimizers.SGD(0.0))
    return gan


@pytest.mark.parametrize("trainer", ["onestep", "alternating"])
@pytest.mark.parametrize(
    "score,probability,after",
    [
        # D calls every real image real: r_t = 1 > 0.6, p rises by
        # 8 images / 80 per 2-step interval: 0, .1, .1, .2, ... .4.
        (1.0, None, [0.0, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4]),
        # D calls every real image fake: r_t = -1, p falls from 0.5.
        (-1.0, 0.5, [0.5, 0.4, 0.4, 0.3, 0.3, 0.2, 0.2, 0.1]),
    ],
)
def test_fit_moves_p_by_d_s_verdicts_on_the_real_images(
    trainer, score, probability, after
):
    gan = _adaptive_gan(trainer, score, probability)
    images = np.zeros((32, SIZE, SIZE, CHANNELS), "float32")
    history = gan.fit(images, batch_size=4, epochs=1, verbose=0)
    assert float(_np(gan.augment.probability)) == pytest.approx(after[-1])
    # `augment_p` is the epoch's mean of p after each step.
    assert history.history["augment_p"][-1] == pytest.approx(np.mean(after))


def test_a_reloaded_trainer_resumes_p_and_the_interval(tmp_path):
    gan = _adaptive_gan("onestep", 1.0)
    images = np.zeros((12, SIZE, SIZE, CHANNELS), "float32")
    gan.fit(images, batch_size=4, epochs=1, verbose=0)  # 3 steps
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)  # safe_mode=True
    for a in (gan, reloaded):
        assert float(_np(a.augment.probability)) == pytest.approx(0.1)
        assert float(_np(a.augment.batches)) == 1.0  # mid-interval
    reloaded.fit(images[:4], batch_size=4, epochs=1, verbose=0)
    assert float(_np(reloaded.augment.probability)) == pytest.approx(0.2)


def test_losses_without_a_verdict_refuse_the_adaptive_probability():
    with pytest.raises(ValueError, match="'wgan' loss only compares"):
        _adaptive_gan("onestep", 1.0, loss="wgan")
    with pytest.raises(ValueError, match="'gan-qp' loss only compares"):
        OGAN(
            _generator(),
            _constant_discriminator(1.0),
            augment=DiffAugment(target=0.6),
        )
    # A fixed probability needs no verdicts.
    OneStepGAN(
        _generator(),
        _constant_discriminator(1.0),
        loss="wgan",
        augment=DiffAugment(probability=0.5),
    )


# -- the scripts' flags ------------------------------------------------------
def _config(*flags):
    args = script_module("train_mnist").parse_args(
        ["--base-channels", "8", "--z-dim", "16", *flags]
    )
    return cli.run_config(args, image_size=32, channels=1)


def test_flags_reach_the_trainer_s_augmentation():
    config = _config(
        "--augment", "translation,cutout", "--augment-target", "0.6",
        "--augment-kimg", "100",
    )  # fmt: skip
    gan, _, _ = recipes.build(config)
    augment = gan.augment
    assert isinstance(augment, DiffAugment) and augment.target == 0.6
    assert augment.adjust_images == 100_000 and augment.policy == (
        "translation,cutout"
    )
    assert "augment_p" in [m.name for m in gan.metrics]


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--augment-target", "0.6"], "give --augment"),
        (["--augment-kimg", "10"], "give --augment-target"),
        (
            ["--augment", "color", "--augment-target", "0.6", "--loss", "wgan"],
            "wgan only compares scores",
        ),
        (["--augment", "color", "--augment-target", "1.5"], "in (-1, 1)"),
    ],
)
def test_flags_that_cannot_work_are_named(flags, message, capsys):
    # A value out of its bounds is a usage error of the flag itself.
    with pytest.raises(SystemExit) if "in (" in message else script_stops():
        _config(*flags)
    assert message in capsys.readouterr().err


def test_run_config_takes_the_losses_that_give_verdicts():
    for loss in ("hinge", "ns", "r1", "lsgan"):
        recipes.RunConfig(loss=loss, augment="color", augment_target=0.6)
    for loss in ("wgan-gp", "ragan", "gan-qp"):
        with pytest.raises(recipes.ConfigError, match="only compares"):
            recipes.RunConfig(loss=loss, augment="color", augment_target=0.6)
