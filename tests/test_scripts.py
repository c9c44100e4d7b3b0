"""train_mnist.py and train_celeba.py end to end, in subprocesses.

Each subprocess pays the TensorFlow import (~10 s), so every run here does
a few steps at tiny sizes and checks as much as it can.
"""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import keras
import numpy as np
import pytest
from helpers.gan_fixtures import (
    mlp_discriminator,
    mlp_generator,
    ring_of_gaussians,
)
from helpers.script_helpers import script_module, script_stops
from PIL import Image

import kgan
from kgan import cli, recipes
from kgan.training import OGAN, OneStepGAN

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
TINY = ["--base-channels", "8", "--z-dim", "16", "--sample-every", "2"]
MNIST = [*TINY, "--batch-size", "16", "--checkpoint-every", "2"]
CELEBA = [*TINY, "--image-size", "32", "--batch-size", "4"]
CELEBA += ["--checkpoint-every", "2"]


def _command(script, *args):
    return [sys.executable, str(ROOT / script), *map(str, args)]


def _run(script, *args, timeout=300):
    return subprocess.run(
        _command(script, *args),
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _history(out):
    with open(out / "history.csv") as f:
        return list(csv.DictReader(f))


def _assert_ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr


@pytest.fixture
def faces(tmp_path):
    """Six RGB JPEGs, a grey PNG, an RGBA PNG, a cut JPEG and a note."""
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        pixels = rng.integers(0, 256, (44, 36, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"face_{i}.jpg")
    grey = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    Image.fromarray(grey).save(folder / "grey.png")
    rgba = rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    data = (folder / "face_0.jpg").read_bytes()
    (folder / "corrupt.jpg").write_bytes(data[: len(data) // 2])
    (folder / "notes.txt").write_text("not an image")
    return folder


def _load_generator(path):
    return keras.models.load_model(path)  # safe mode; kgan is imported


# -- end to end -------------------------------------------------------------
@pytest.mark.slow
def test_celeba_trains_on_a_folder_with_odd_files_and_writes_everything(
    faces, tmp_path
):
    out = tmp_path / "run"
    result = _run(
        "train_celeba.py", "--data", faces, "--out", out, *CELEBA, "--steps", 4
    )
    _assert_ok(result)
    assert "corrupt.jpg" in result.stderr  # skipped, and said so
    assert f"{faces}: 8 images" in result.stdout.splitlines()
    # A quiet start: TensorFlow's start-up lines are gone.
    assert "oneDNN" not in result.stderr and "I0000" not in result.stderr
    for name in ("samples", "reconstructions", "interpolation"):
        for step in (2, 4):
            assert (out / "samples" / f"{name}_{step:06d}.png").exists()
    samples = imageio.imread(out / "samples" / "samples_000004.png")
    assert samples.shape == (9 * 32, 9 * 32, 3)  # Su's 9 x 9 grid
    pairs = imageio.imread(out / "samples" / "reconstructions_000004.png")
    assert pairs.shape == (8 * 32, 8 * 32, 3)  # 32 real | rebuilt pairs
    assert [int(r["step"]) for r in _history(out)] == [2, 4]
    assert imageio.imread(out / "loss.png").ndim == 3
    metadata = json.loads((out / "checkpoint" / "checkpoint.json").read_text())
    assert metadata["step"] == 4
    generator = _load_generator(out / "generator.keras")
    images = kgan.sample(generator, 3, seed=0)
    assert images.shape == (3, 32, 32, 3)
    assert np.isfinite(images).all() and np.abs(images).max() <= 1


@pytest.mark.slow
def test_mnist_conditional_run_writes_everything(tmp_path):
    out = tmp_path / "run"
    result = _run(
        "train_mnist.py", "--out", out, *MNIST, "--steps", 4, "--conditional"
    )
    _assert_ok(result)
    for name in ("samples", "interpolation"):
        assert (out / "samples" / f"{name}_000004.png").exists()
    assert (out / "loss.png").exists()
    assert [int(r["step"]) for r in _history(out)] == [2, 4]
    with open(out / "metrics.json") as f:
        report = json.load(f)
    assert report["mnist_fid"] > report["real_vs_real_mnist_fid"] > 0
    assert len(report["class_shares"]) == 10
    assert 0 <= report["label_accuracy"] <= 1
    generator = _load_generator(out / "generator.keras")
    images = kgan.sample(generator, 4, labels=[0, 1, 2, 3], seed=0)
    assert images.shape == (4, 32, 32, 1) and np.isfinite(images).all()
    # The same command again would overwrite the run: it refuses.
    again = _run(
        "train_mnist.py", "--out", out, *MNIST, "--steps", 4, "--conditional"
    )
    assert again.returncode == 2 and "--resume" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.slow
def test_bad_data_paths_fail_fast_with_the_path_and_no_traceback(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "no_such_folder"
    cases = {
        "celeba missing": ("train_celeba.py", "--data", missing),
        "celeba empty": ("train_celeba.py", "--data", empty),
        "mnist missing": ("train_mnist.py", "--data", missing / "mnist.npz"),
    }
    runs = {}
    for name, (script, *args) in cases.items():  # in parallel: import-bound
        runs[name] = subprocess.Popen(
            _command(script, *args, "--out", tmp_path / name),
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for name, run in runs.items():
        stdout, stderr = run.communicate(timeout=240)
        assert run.returncode == 2, (name, stdout, stderr)
        assert str(cases[name][-1]) in stderr, (name, stderr)
        assert stderr.strip().splitlines()[-1].startswith("error: ")
        assert "Traceback" not in stderr
        assert "parameters" not in stdout  # it failed before building models


# -- in process: flags, defaults, Ctrl-C -------------------------------------
SHARED_FLAGS = (
    "--data", "--out", "--steps", "--batch-size", "--lr", "--z-dim", "--arch",
    "--loss", "--trainer", "--ogan", "--ema", "--seed", "--resume", "--xla",
    "--mixed-precision", "--distribution", "--join-timeout", "--g-lr",
    "--n-critic", "--label-smoothing", "--spectral-norm", "--kernel-size",
    "--max-channels", "--weight-clip", "--body", "--attention",
    "--instance-noise", "--corr-weight", "--ema-scope", "--tensorboard",
    "--preset", "--style-mixing", "--equalized-lr", "--augment",
    "--progressive",
)  # fmt: skip


@pytest.mark.parametrize(
    "script, own",
    [("train_mnist", "--conditional"), ("train_celeba", "--image-size")],
)
def test_scripts_share_the_flags_and_explain_each(script, own, capsys):
    module = script_module(script)
    with pytest.raises(SystemExit):
        module.parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in (*SHARED_FLAGS, own):
        assert flag in text
    with pytest.raises(SystemExit):
        module.parse_args(["--steps", "0"])
    assert "--steps: must be an integer >= 1, got 0" in capsys.readouterr().err


def test_mnist_defaults_are_the_tuned_run_and_ema_can_be_turned_off():
    parse = script_module("train_mnist").parse_args
    config = cli.run_config(parse([]), 32, 1)
    assert (config.steps, config.ema, config.arch, config.loss) == (
        10000, 0.999, "selfmod", None,
    )  # fmt: skip
    assert config.adversarial_loss == "hinge"
    assert parse(["--no-ema"]).ema is None
    assert parse(["--ema", "0.99"]).ema == 0.99
    assert script_module("train_celeba").parse_args(["--data", "x"]).ema is None


def test_celeba_defaults_are_su_s_o_gan_run():
    args = script_module("train_celeba").parse_args(["--data", "x"])
    assert (args.image_size, args.z_dim, args.batch_size) == (128, 128, 64)
    args = cli.run_config(args, channels=3)
    assert (args.arch, args.ogan, args.lr, args.crop) == (
        "selfmod",
        True,
        1e-4,
        "center",
    )
    assert args.sample_every == 100
    assert script_module("train_celeba").parse_args(["--no-ogan"]).ogan is False
    small = script_module("train_celeba").parse_args(["--base-channels", "8"])
    gan, _, discriminator = recipes.build(cli.run_config(small, 32, 3))
    assert isinstance(gan, OGAN)
    optimizer = gan.optimizer
    assert isinstance(optimizer, keras.optimizers.RMSprop)
    assert optimizer.rho == 0.99
    learning_rate = keras.ops.convert_to_numpy(optimizer.learning_rate)
    assert np.isclose(learning_rate, 1e-4)
    assert discriminator.outputs[0].shape[-1] == 128


def test_ctrl_c_or_sigterm_checkpoints_the_current_step(tmp_path, capsys):
    args = script_module("train_mnist").parse_args(
        ["--out", str(tmp_path), "--steps", "100", "--sample-every", "1000"]
        + ["--checkpoint-every", "4", "--seed", "0"]
    )
    gan = OneStepGAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(optimizer=keras.optimizers.Adam(1e-3))
    config = cli.run_config(args, 32, 1)
    callbacks = recipes.run_callbacks(config, gan)

    class Terminate(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(gan.current_step()) == 6:
                os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    with script_stops() as stop:
        with recipes.checkpoint_on_interrupt(callbacks):
            gan.fit(
                ring_of_gaussians(64)[0],
                batch_size=8,
                epochs=config.epochs,
                steps_per_epoch=args.checkpoint_every,
                callbacks=[*callbacks, Terminate()],
                verbose=0,
            )
    assert stop.code == 130
    assert signal.getsignal(signal.SIGTERM) is previous
    metadata = json.loads(
        (tmp_path / "checkpoint" / "checkpoint.json").read_text()
    )
    assert metadata["step"] == 6  # the step it stopped at, not 4
    assert "--resume" in capsys.readouterr().err


def test_mapping_layers_sets_the_stylegan_mapping_depth():
    parse = script_module("train_mnist").parse_args
    assert parse([]).mapping_layers == 4
    args = parse(["--arch", "stylegan", "--mapping-layers", "1",
                  "--base-channels", "8"])  # fmt: skip
    generator, _ = recipes.build_models(cli.run_config(args, 32, 1))
    mapping = [x.name for x in generator.layers if "mapping_dense" in x.name]
    assert mapping == ["mapping_dense_1"]
    with pytest.raises(SystemExit):
        parse(["--mapping-layers", "0"])
