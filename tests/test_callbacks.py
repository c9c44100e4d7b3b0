"""kgan.callbacks: pictures, EMA, atomic checkpoints and step-exact resume."""

import csv
import json
import os

import imageio.v2 as imageio
import keras
import numpy as np
import pytest
from keras import layers

from kgan import callbacks as kc
from kgan.training import OGAN, AlternatingGAN, OneStepGAN

SIZE, Z_DIM = 4, 4


def _generator(seed=0, noise=False):
    z = keras.Input((Z_DIM,))
    if noise:  # a layer with its own SeedGenerator, which Keras never saves
        z_in, z = z, layers.GaussianNoise(0.5, seed=seed)(z)
    x = layers.Dense(
        SIZE * SIZE,
        activation="tanh",
        kernel_initializer=keras.initializers.GlorotUniform(seed),
    )(z)
    x = layers.Reshape((SIZE, SIZE, 1))(x)
    return keras.Model(z_in if noise else z, x)


def _discriminator(out=1, seed=1):
    x_in = keras.Input((SIZE, SIZE, 1))
    x = layers.Flatten()(x_in)
    x = layers.Dense(
        8, kernel_initializer=keras.initializers.GlorotUniform(seed)
    )(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Dense(
        out, kernel_initializer=keras.initializers.GlorotUniform(seed + 1)
    )(x)
    return keras.Model(x_in, x)


def _images(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, SIZE, SIZE, 1)).astype("float32")


def _gan(kind="onestep", lr=1e-2):
    if kind == "ogan":
        gan = OGAN(_generator(), _discriminator(out=Z_DIM), seed=3)
        gan.compile(optimizer=keras.optimizers.RMSprop(lr))
    elif kind == "alternating":
        gan = AlternatingGAN(_generator(), _discriminator(), seed=3)
        gan.compile(keras.optimizers.Adam(lr), keras.optimizers.Adam(lr))
    else:
        generator = _generator(noise=kind == "noise")
        gan = OneStepGAN(generator, _discriminator(), seed=3)
        ema = 0.5 if kind == "ema" else None
        gan.compile(optimizer=keras.optimizers.Adam(lr), ema_momentum=ema)
    return gan


def _fit(gan, epochs, callbacks=(), images=None):
    images = _images() if images is None else images
    return gan.fit(
        images,
        batch_size=4,  # two steps per epoch
        epochs=epochs,
        shuffle=False,
        callbacks=list(callbacks),
        verbose=0,
    )


def _state(gan):
    variables = gan.trainable_variables + gan.non_trainable_variables
    optimizers = [getattr(gan, n, None) for n in ("optimizer", "g_optimizer")]
    optimizers += [getattr(gan, "d_optimizer", None)]
    for optimizer in filter(None, optimizers):
        variables += optimizer.variables
    state = [keras.ops.convert_to_numpy(v).copy() for v in variables]
    return state + [keras.ops.convert_to_numpy(gan.seed_generator.state)]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


# -- pictures ---------------------------------------------------------------
def test_image_grid_places_images_row_by_row_and_scales_to_uint8():
    images = np.stack([np.full((2, 3, 1), v, "float32") for v in (-1, 0, 1)])
    image = kc.image_grid(images, rows=2, cols=2)
    assert image.shape == (4, 6) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[:2, :3], 0)  # -1 -> 0
    np.testing.assert_array_equal(image[:2, 3:], 128)  # 0 -> 127.5 -> 128
    np.testing.assert_array_equal(image[2:, :3], 255)
    np.testing.assert_array_equal(image[2:, 3:], 255)  # empty cell: white
    with pytest.raises(ValueError, match="cannot hold 3 images"):
        kc.image_grid(images, rows=1, cols=2)


def test_slerp_walks_the_circle_between_orthogonal_latents():
    r, t = 3.0, np.linspace(0, 1, 7)[:, None]
    z0, z1 = np.array([r, 0.0, 0.0]), np.array([0.0, r, 0.0])
    path = kc.slerp(z0, z1, t)
    angle = t[:, 0] * np.pi / 2  # independent: a rotation in the plane
    expected = np.stack([r * np.cos(angle), r * np.sin(angle), 0 * angle], 1)
    np.testing.assert_allclose(path, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), r, rtol=1e-5)
    # Parallel latents: the linear mix.
    np.testing.assert_allclose(kc.slerp(z0, 2 * z0, 0.5), 1.5 * z0, rtol=1e-6)


def test_sample_grid_draws_from_the_ema_and_restores_the_weights(tmp_path):
    gan = _gan("ema")
    ema = kc.SampleGrid(tmp_path, every_n_steps=2, rows=2, prefix="ema")
    raw = kc.SampleGrid(tmp_path, 2, rows=2, prefix="raw", ema=False)
    expected = {}

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(gan.current_step()) != 2:
                return
            z = ema._inputs(gan.generator)
            expected["raw"] = kc.image_grid(gan.generator.predict(z, verbose=0))
            with gan.ema_weights():
                average = gan.generator.predict(z, verbose=0)
            expected["ema"] = kc.image_grid(average)

    _fit(gan, 2, [ema, raw, Probe()])
    assert [os.path.basename(p) for p in ema.written] == [
        "ema_000002.png",
        "ema_000004.png",
    ]
    for name in ("ema", "raw"):
        picture = imageio.imread(tmp_path / f"{name}_000002.png")
        np.testing.assert_array_equal(picture, expected[name])
    assert not np.array_equal(expected["ema"], expected["raw"])


def test_sample_grid_uses_the_same_z_every_time(tmp_path):
    gan = _gan(lr=0.0)  # weights never change: pictures must not either
    grid = kc.SampleGrid(tmp_path, every_n_steps=1, rows=3, seed=5)
    _fit(gan, 1, [grid])
    first, second = (imageio.imread(p) for p in grid.written)
    assert first.shape == (3 * SIZE, 3 * SIZE)
    np.testing.assert_array_equal(first, second)


def test_reconstruction_grid_pairs_real_and_rebuilt_images(tmp_path):
    gan = _gan("ogan")
    real = _images(6, seed=4)
    grid = kc.ReconstructionGrid(real, tmp_path, 2, pairs_per_row=4)
    _fit(gan, 1, [grid])
    picture = imageio.imread(grid.written[-1])
    assert picture.shape == (2 * SIZE, 8 * SIZE)  # 2 rows of 4 pairs
    rebuilt = gan.reconstruct(real)
    cells = np.stack([real, rebuilt], 1).reshape((-1, SIZE, SIZE, 1))
    for i, cell in enumerate(cells):  # independent: tile cell by cell
        r, c = divmod(i, 8)
        np.testing.assert_array_equal(
            picture[r * SIZE : (r + 1) * SIZE, c * SIZE : (c + 1) * SIZE],
            kc.image_grid(cell[None], 1, 1),
        )
    assert (picture[SIZE:, 4 * SIZE :] == 255).all()  # no pairs 7 and 8


def test_reconstruction_grid_needs_an_ogan_trainer(tmp_path):
    grid = kc.ReconstructionGrid(_images(4), tmp_path)
    with pytest.raises(ValueError, match="O-GAN trainer"):
        _fit(_gan(), 1, [grid])
    with pytest.raises(ValueError, match=r"images.shape=\(4, 4\)"):
        kc.ReconstructionGrid(np.zeros((4, 4)), tmp_path)


def test_interpolation_strip_rows_go_from_z_a_to_z_b(tmp_path):
    strip = kc.InterpolationStrip(tmp_path, 2, rows=3, steps=5, seed=7)
    z = strip.latents(Z_DIM).reshape(3, 5, Z_DIM)
    z_a, z_b = np.random.default_rng(7).normal(size=(2, 3, 1, Z_DIM))
    np.testing.assert_allclose(z[:, 0], z_a[:, 0], rtol=1e-5)
    np.testing.assert_allclose(z[:, -1], z_b[:, 0], rtol=1e-5)
    gan = _gan()
    _fit(gan, 1, [strip])
    assert imageio.imread(strip.written[-1]).shape == (3 * SIZE, 5 * SIZE)
    with pytest.raises(ValueError, match="every_n_steps=0"):
        kc.InterpolationStrip(tmp_path, every_n_steps=0)


# -- checkpoints ------------------------------------------------------------
@pytest.mark.parametrize(
    "kind",
    [
        "onestep",
        pytest.param("ema", marks=pytest.mark.slow),
        pytest.param("alternating", marks=pytest.mark.slow),
        pytest.param("noise", marks=pytest.mark.slow),
    ],
)
def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, kind):
    straight = _gan(kind)
    _fit(straight, 3)

    first = _gan(kind)
    _fit(first, 1, [kc.Checkpoint(tmp_path)])
    assert json.loads((tmp_path / "checkpoint.json").read_text())["step"] == 2
    resumed = _gan(kind)  # fresh weights, optimizer and noise generator
    checkpoint = kc.Checkpoint(tmp_path)
    history = _fit(resumed, 3, [checkpoint])
    assert checkpoint.restored_step == 2
    assert len(history.history["d_loss"]) == 2  # epochs 2 and 3 only
    assert int(resumed.current_step()) == 6
    _assert_same(_state(resumed), _state(straight))


def test_restore_brings_back_optimizer_slots_step_and_noise_state(tmp_path):
    gan = _gan()
    checkpoint = kc.Checkpoint(tmp_path)
    _fit(gan, 1, [checkpoint])
    saved = _state(gan)
    fresh = _gan()
    restore = kc.Checkpoint(tmp_path)
    restore.set_model(fresh)
    restore.on_train_begin()
    assert restore.restored_step == 2 and restore.ready
    _assert_same(_state(fresh), saved)


@pytest.mark.slow
def test_a_save_killed_midway_leaves_the_previous_checkpoint(
    tmp_path, monkeypatch
):
    gan = _gan()
    checkpoint = kc.Checkpoint(tmp_path)
    _fit(gan, 1, [checkpoint])
    saved = _state(gan)
    _fit(gan, 1)  # step 4, not yet checkpointed

    def killed(path, **kwargs):
        with open(path, "wb") as f:
            f.write(b"\x89HDF half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(gan, "save_weights", killed)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save()
    monkeypatch.undo()
    # A real kill also leaves its temporary file behind.
    (tmp_path / ".tmp-0badf00d-step_000000004.weights.h5").write_bytes(b"x")
    assert checkpoint.latest() == (
        str(tmp_path / "step_000000002.weights.h5"),
        2,
    )
    assert not (tmp_path / "step_000000004.weights.h5").exists()

    fresh = _gan()
    restore = kc.Checkpoint(tmp_path)
    restore.set_model(fresh)
    restore.on_train_begin()
    assert restore.restored_step == 2
    _assert_same(_state(fresh), saved)
    restore.save()  # step 2 again: nothing new, nothing lost
    _fit(fresh, 2, [restore])  # -> step 4, committed; stale temp pruned
    names = sorted(os.listdir(tmp_path))
    assert names == [
        "checkpoint.json",
        "step_000000002.weights.h5",
        "step_000000004.weights.h5",
    ]


@pytest.mark.slow
def test_an_unreadable_newest_checkpoint_falls_back_to_the_previous(
    tmp_path, capsys
):
    gan = _gan()
    _fit(gan, 2, [kc.Checkpoint(tmp_path, keep=2)])
    (tmp_path / "step_000000004.weights.h5").write_bytes(b"not hdf5")
    fresh = _gan()
    restore = kc.Checkpoint(tmp_path)
    _fit(fresh, 3, [restore])
    assert restore.restored_step == 2
    assert int(fresh.current_step()) == 6
    assert "resumed from" in capsys.readouterr().out
    probe = _gan()
    probe.optimizer.build(probe.trainable_variables)
    probe.load_weights(tmp_path / "step_000000004.weights.h5")  # rewritten
    assert int(probe.current_step()) == 4


@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing"])
def test_damaged_metadata_is_rebuilt_from_the_weights_files(
    tmp_path, capsys, damage
):
    _fit(_gan(), 2, [kc.Checkpoint(tmp_path, keep=2)])  # steps 2 and 4
    metadata = tmp_path / "checkpoint.json"
    if damage == "truncated":
        metadata.write_text(metadata.read_text()[:7])
    elif damage == "garbage":
        metadata.write_text('{"step": "four", "weights": 3}')
    else:
        metadata.unlink()
    restore = kc.Checkpoint(tmp_path)
    newest = str(tmp_path / "step_000000004.weights.h5")
    assert restore.describe() == f"{newest} (step 4)"
    fresh = _gan()
    _fit(fresh, 3, [restore])
    assert restore.restored_step == 4 and int(fresh.current_step()) == 6
    out = capsys.readouterr().out
    what = "missing" if damage == "missing" else "damaged"
    assert f"checkpoint.json is {what}; using the weights files" in out
    assert json.loads(metadata.read_text())["step"] == 6  # written anew


def test_damaged_metadata_without_weights_is_no_checkpoint(tmp_path):
    (tmp_path / "checkpoint.json").write_text("{")
    assert kc.Checkpoint(tmp_path).latest() is None


def test_batch_frequency_saves_and_keeps_the_newest(tmp_path):
    checkpoint = kc.Checkpoint(tmp_path, save_freq=1, keep=3)
    _fit(_gan(), 2, [checkpoint])  # four steps, a checkpoint after each
    metadata = json.loads((tmp_path / "checkpoint.json").read_text())
    assert metadata["step"] == 4
    assert metadata["previous"] == [
        "step_000000003.weights.h5",
        "step_000000002.weights.h5",
    ]
    assert sorted(os.listdir(tmp_path)) == [
        "checkpoint.json",
        *(f"step_00000000{i}.weights.h5" for i in (2, 3, 4)),
    ]
    with pytest.raises(ValueError, match="keep=0"):
        kc.Checkpoint(tmp_path, keep=0)


@pytest.mark.slow
def test_nan_stops_training_names_the_last_good_checkpoint(tmp_path, capsys):
    gan = _gan()
    checkpoint = kc.Checkpoint(tmp_path)
    guard = kc.StopOnNaN(checkpoint)
    _fit(gan, 1, [checkpoint, guard])

    class Poison(keras.callbacks.Callback):  # after the restore
        def on_train_batch_begin(self, batch, logs=None):
            kernel = gan.discriminator.trainable_variables[0]
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    _fit(gan, 3, [checkpoint, Poison(), guard])
    out = capsys.readouterr().out
    path = str(tmp_path / "step_000000002.weights.h5")
    # One message, from the NaN stop, at the step it stopped.
    assert out.count("NaN") == 1, out
    assert "training stopped at step 3: d_loss" in out
    assert f"The last good checkpoint is {path} (step 2)." in out
    assert guard.nan_message and int(gan.current_step()) == 3
    assert checkpoint.latest() == (path, 2)


def test_no_picture_is_drawn_from_nan_weights(tmp_path):
    gan = _gan()
    grid = kc.SampleGrid(tmp_path, every_n_steps=1, rows=2)
    _fit(gan, 1, [grid])
    drawn = len(grid.written)
    assert drawn == len(os.listdir(tmp_path)) > 0
    kernel = gan.generator.trainable_variables[0]
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    assert grid.write(step=99) is None
    assert len(grid.written) == drawn == len(os.listdir(tmp_path))


@pytest.mark.slow
def test_stop_at_step_counts_resumed_steps(tmp_path):
    gan = _gan()
    _fit(gan, 10, [kc.StopAtStep(5)])
    assert int(gan.current_step()) == 5
    with pytest.raises(ValueError, match="at step 5, at or past steps=5"):
        _fit(gan, 10, [kc.StopAtStep(5)])  # already there: no step at all
    assert int(gan.current_step()) == 5
    _fit(gan, 2, [])  # and the next plain `fit` is not cut short
    assert int(gan.current_step()) == 9
    with pytest.raises(ValueError, match="steps=0"):
        kc.StopAtStep(0)


@pytest.mark.slow
def test_history_csv_has_the_step_and_loss_plot_reads_it(tmp_path):
    csv_path, png = tmp_path / "history.csv", tmp_path / "loss.png"
    plot = kc.LossPlot(png, csv_path=csv_path)
    logger = keras.callbacks.CSVLogger(csv_path)
    _fit(_gan(), 3, [kc.LogStep(), logger, plot])
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    x, y = plot.series["d_loss"]
    assert x == [2, 4, 6]
    np.testing.assert_allclose(y, [float(r["d_loss"]) for r in rows])
    assert imageio.imread(png).ndim == 3
    # A resumed run repeats a row: the later value wins.
    with open(csv_path, "a", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writerow({**rows[1], "epoch": 5, "d_loss": 9})
    assert [r["x"] for r in plot.rows()] == [2, 4, 6]
    assert plot.rows()[1]["d_loss"] == 9
    assert "val_d_loss" not in plot.series  # CSVLogger's "NA" columns
