"""What the scripts' flags do to the models and the run (in process)."""

from pathlib import Path

import keras
import numpy as np
import pytest
from helpers.gan_fixtures import mlp_discriminator, mlp_generator
from helpers.script_helpers import h5_arrays, script_module, script_stops

from kgan import cli, recipes
from kgan.losses import WeightClip
from kgan.training import OneStepGAN

TINY = ["--base-channels", "8", "--z-dim", "16"]


def mnist_args(*flags):
    return script_module("train_mnist").parse_args([*TINY, *flags])


def config_of(args, image_size=32, channels=1):
    return cli.run_config(args, image_size=image_size, channels=channels)


def models_of(args, image_size=32, channels=1):
    return recipes.build_models(config_of(args, image_size, channels))


def built(*flags):
    config = config_of(mnist_args(*flags))
    gan, _, d = recipes.build(config)
    return config, gan, d


def batch_norms(model):
    return [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


@pytest.mark.parametrize("loss", ["wgan-gp", "wgan-div", "r1"])
def test_a_gradient_penalty_gets_a_critic_without_batch_norm(loss):
    _, _, d = built("--loss", loss)
    assert not batch_norms(d)
    _, _, plain = built("--loss", "hinge")
    assert batch_norms(plain)


def clip_bounds(model):
    bounds = set()
    for v in model.trainable_variables:
        if isinstance(v.constraint, WeightClip):
            bounds.add(v.constraint.clip_value)
            assert np.abs(keras.ops.convert_to_numpy(v)).max() <= (
                v.constraint.clip_value + 1e-7
            )
        else:
            bounds.add(None)
    return bounds


def test_plain_wgan_clips_the_critic_unless_told_otherwise():
    assert clip_bounds(built("--loss", "wgan")[2]) == {0.01}
    assert clip_bounds(built("--loss", "wgan", "--weight-clip", "0")[2]) == {
        None
    }
    assert clip_bounds(built("--loss", "hinge")[2]) == {None}
    assert clip_bounds(
        built("--loss", "hinge", "--weight-clip", "0.05")[2]
    ) == {0.05}


def test_the_clip_holds_after_a_training_step():
    args, gan, d = built("--loss", "wgan", "--batch-size", "8")
    images = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 1))
    gan.fit(images.astype("float32"), batch_size=8, epochs=1, verbose=0)
    assert clip_bounds(d) == {0.01}


def test_ogan_refuses_a_loss_it_cannot_use(capsys):
    with script_stops() as stop:
        built("--ogan", "--loss", "hinge")
    assert stop.code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: --ogan trains with Su's GAN-QP loss, so --loss hinge cannot "
        "apply: drop --loss, or turn --ogan off."
    )
    built("--ogan")  # the default --loss is not the user's choice
    built("--ogan", "--loss", "gan-qp")  # the loss O-GAN uses


def test_celeba_defaults_to_ogan_so_loss_needs_no_ogan(capsys):
    parse = script_module("train_celeba").parse_args
    args = parse(["--loss", "hinge", "--image-size", "32", *TINY])
    with script_stops():
        config_of(args, channels=3)
    assert "turn --ogan off" in capsys.readouterr().err
    args = parse(["--loss", "hinge", "--no-ogan", "--image-size", "32", *TINY])
    recipes.build(config_of(args, channels=3))


def test_out_on_a_file_fails_at_once(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("mine")
    with script_stops() as stop:
        recipes.open_run(config_of(mnist_args("--out", str(target))))
    assert stop.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --out {target} is a file: give a folder (the run writes "
        "generator.keras, samples/, history.csv and checkpoint/ in it)."
    )
    assert target.read_text() == "mine"


@pytest.mark.slow
def test_lr_typed_on_resume_replaces_the_checkpoint_s(tmp_path, capsys):
    main = script_module("train_mnist").main
    out = str(tmp_path / "run")
    common = [*TINY, "--out", out, "--batch-size", "8", "--no-ema"]
    common += ["--checkpoint-every", "1", "--sample-every", "100"]
    main([*common, "--steps", "1"])
    capsys.readouterr()
    main([*common, "--steps", "2", "--resume", "--lr", "5e-5"])
    text = capsys.readouterr().out
    assert "resumed from" in text
    assert (
        "kgan: learning rate from the command line: D and G 5e-05 (the "
        "checkpoint had 0.0002); the rest of the state from the checkpoint"
    ) in text
    checkpoint = Path(out) / "checkpoint" / "step_000000002.weights.h5"
    assert checkpoint.exists()


@pytest.mark.parametrize("saved", [True, False])
def test_after_a_nan_stop_the_advice_matches_the_disk(tmp_path, capsys, saved):
    from kgan import callbacks as kc

    checkpoint = kc.Checkpoint(str(tmp_path / "checkpoint"))
    guard = kc.StopOnNaN(checkpoint)
    guard.nan_message = "kgan: NaN at step 7."
    if saved:
        (tmp_path / "checkpoint").mkdir()
        (tmp_path / "checkpoint" / "checkpoint.json").write_text(
            '{"step": 5, "weights": "step_000000005.weights.h5"}'
        )
    args = mnist_args("--out", str(tmp_path))
    with script_stops():
        recipes.save_generator(config_of(args), None, [guard])
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: kgan: NaN at step 7. No generator.keras")
    if saved:
        assert err.endswith(
            "Continue from it with --resume and a lower --lr (the flag "
            "replaces the checkpoint's learning rate)."
        )
    else:
        assert err.endswith("Start again with a lower --lr and another --out.")
    assert not (tmp_path / "generator.keras").exists()


@pytest.mark.slow
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    """Same batches, same noise, same optimizer state: stopping at step 2
    and resuming to step 4 gives the weights of 4 steps in one go."""
    main = script_module("train_mnist").main
    common = [*TINY, "--batch-size", "8", "--no-ema", "--sample-every", "100"]
    common += ["--checkpoint-every", "2"]
    main([*common, "--out", str(tmp_path / "whole"), "--steps", "4"])
    main([*common, "--out", str(tmp_path / "split"), "--steps", "2"])  # stop
    main(
        [*common, "--out", str(tmp_path / "split"), "--steps", "4", "--resume"]
    )
    # The checkpoints of step 4 hold both networks and the optimizer: D's
    # weights depend on the batches directly.
    whole, split = (
        h5_arrays(tmp_path / name / "checkpoint" / "step_000000004.weights.h5")
        for name in ("whole", "split")
    )
    assert whole.keys() == split.keys() and len(whole) > 20
    for key in whole:
        np.testing.assert_allclose(
            whole[key], split[key], rtol=1e-5, atol=1e-6, err_msg=key
        )


def test_a_damaged_checkpoint_still_guards_the_run(tmp_path, capsys):
    """Without --resume, a run whose checkpoint.json is damaged refuses to
    start over on top of the earlier run's weights."""
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "step_000000300.weights.h5").write_bytes(b"weights")
    (folder / "checkpoint.json").write_text('{"step": 3')  # cut short
    args = mnist_args("--out", str(tmp_path))
    with script_stops() as stop:
        recipes.run_callbacks(config_of(args), gan=None)
    assert stop.code == 2
    err = capsys.readouterr().err
    assert "step_000000300.weights.h5 (step 300) of an earlier run" in err
    assert "add --resume" in err
    # With --resume the weights file is found (and tried: it is no HDF5).
    resumed = config_of(mnist_args("--out", str(tmp_path), "--resume"))
    gan = OneStepGAN(mlp_generator(), mlp_discriminator())
    gan.compile(keras.optimizers.SGD())
    callbacks = recipes.run_callbacks(resumed, gan)
    with script_stops() as stop:
        recipes.restore(resumed, gan, callbacks)
    assert stop.code == 2
    err = capsys.readouterr().err
    assert "step_000000300.weights.h5" in err and "could be loaded" in err
    assert not (tmp_path / "config.json").exists()  # nothing was written


def _rates(gan):
    from kgan.training.keras_contracts import network_optimizers

    d, g = network_optimizers(gan.optimizer)
    return float(d.learning_rate), float(g.learning_rate), d is g


@pytest.mark.parametrize(
    "trainer", [[], ["--trainer", "alternating"], ["--ogan"]]
)
def test_g_lr_gives_the_generator_its_own_rate(trainer):
    _, gan, _ = built(*trainer, "--lr", "1e-4", "--g-lr", "4e-4")
    d_lr, g_lr, shared = _rates(gan)
    assert (d_lr, g_lr, shared) == pytest.approx((1e-4, 4e-4, False))
    _, gan, _ = built(*trainer, "--lr", "1e-4", "--no-ema")
    assert _rates(gan)[:2] == pytest.approx((1e-4, 1e-4))


def test_n_critic_sets_the_alternating_d_steps(capsys):
    _, gan, _ = built("--trainer", "alternating", "--n-critic", "5")
    assert gan.d_steps == 5
    with script_stops():
        built("--n-critic", "5")  # one-step: nothing to set
    assert "choose --trainer alternating" in capsys.readouterr().err


def test_spectral_norm_kernel_size_and_width_cap_reach_the_models(capsys):
    _, _, d = built("--spectral-norm", "--kernel-size", "5")
    wrapped = [
        layer
        for layer in d.layers
        if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    assert wrapped and not batch_norms(d)
    convs = [
        layer.layer if hasattr(layer, "layer") else layer for layer in d.layers
    ]
    kernels = {
        c.kernel_size for c in convs if isinstance(c, keras.layers.Conv2D)
    }
    assert kernels == {(5, 5)}
    args = mnist_args("--max-channels", "16", "--kernel-size", "5")
    g, d = models_of(args)
    for model in (g, d):
        widths = [
            layer.filters
            for layer in model.layers
            if isinstance(layer, (keras.layers.Conv2D,))
            and not isinstance(layer, keras.layers.Conv2DTranspose)
            and layer.filters > 1
        ]
        assert max(widths, default=16) <= 16
    g_kernels = {
        layer.kernel_size
        for layer in g.layers
        if isinstance(layer, keras.layers.Conv2DTranspose)
    }
    assert g_kernels == {(5, 5)}
    _, _, resnet_d = built("--arch", "resnet", "--no-spectral-norm")
    assert not any(
        isinstance(layer, keras.layers.SpectralNormalization)
        for layer in _all_layers(resnet_d)
    )
    _, _, default_resnet_d = built("--arch", "resnet")
    assert any(
        isinstance(layer, keras.layers.SpectralNormalization)
        for layer in _all_layers(default_resnet_d)
    )
    with script_stops():
        built("--arch", "resnet", "--kernel-size", "5")
    assert "3x3 residual blocks" in capsys.readouterr().err


def test_label_smoothing_reaches_the_loss_or_is_refused(capsys):
    import numpy as np

    _, gan, _ = built("--loss", "ns", "--label-smoothing", "0.1")
    real, fake = np.array([[2.0]]), np.array([[-1.0]])
    got = float(gan.adversarial_loss.d_loss(real, fake))
    # -(0.9 log s(r) + 0.1 log(1 - s(r))) - log(1 - s(f)), independently
    s = 1 / (1 + np.exp(-real[0, 0]))
    sf = 1 / (1 + np.exp(-fake[0, 0]))
    expected = -(0.9 * np.log(s) + 0.1 * np.log(1 - s)) - np.log(1 - sf)
    assert got == pytest.approx(expected, rel=1e-5)
    with script_stops():
        built("--loss", "hinge", "--label-smoothing", "0.1")
    assert "applies to --loss ns, r1 or lsgan, not hinge" in (
        capsys.readouterr().err
    )


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)


def test_body_and_attention_reach_the_models(capsys):
    from kgan.layers import SelfAttention2D

    def attention_at(model):
        return sorted(
            int(layer.output.shape[1])
            for layer in _all_layers(model)
            if isinstance(layer, SelfAttention2D)
        )

    args = mnist_args("--arch", "resnet", "--attention", "16")
    g, d = models_of(args)
    assert attention_at(g) == [16] and attention_at(d) == [16]
    args = mnist_args(
        "--arch", "selfmod", "--body", "resnet", "--attention", "8"
    )
    g, _ = models_of(args)
    assert attention_at(g) == [8]
    dcgan_body, _ = models_of(mnist_args("--arch", "selfmod"))
    assert not any(
        isinstance(layer, keras.layers.Add) for layer in _all_layers(dcgan_body)
    )
    assert any(isinstance(layer, keras.layers.Add) for layer in _all_layers(g))
    for flags, message in [
        (
            ("--arch", "dcgan", "--body", "resnet"),
            "--body chooses the body of --arch selfmod",
        ),
        (("--attention", "16"), "--attention needs a ResNet generator"),
        (
            ("--arch", "selfmod", "--body", "resnet", "--kernel-size", "5"),
            "3x3 residual blocks",
        ),
    ]:
        with script_stops():
            models_of(mnist_args(*flags))
        assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "trainer", [[], ["--trainer", "alternating"], ["--ogan"]]
)
def test_instance_noise_is_annealed_over_the_run(trainer):
    _, gan, _ = built(*trainer, "--instance-noise", "0.2", "--steps", "300")
    noise = gan.instance_noise
    assert (noise.initial_std, noise.decay_steps) == (0.2, 300)
    assert built(*trainer)[1].instance_noise is None


@pytest.mark.slow
def test_resuming_a_finished_run_trains_and_writes_nothing(tmp_path, capsys):
    main = script_module("train_mnist").main
    out = tmp_path / "run"
    common = [*TINY, "--out", str(out), "--batch-size", "8", "--steps", "2"]
    common += ["--checkpoint-every", "2", "--sample-every", "100"]
    main(common)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    main([*common, "--resume"])
    assert "the checkpoint is at step 2, --steps is 2: nothing to train" in (
        capsys.readouterr().out
    )
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert after == before


# -- --help -------------------------------------------------------------------
def help_entries(text):
    """`{flag line: help lines}` of argparse's help at 80 columns."""
    entries, current = {}, None
    for line in text.splitlines():
        if line.startswith("  -"):
            current = line.strip()
            entries[current] = int(len(line) > 24 and line[22:24] == "  ")
        elif current and line.startswith(" " * 24) and line.strip():
            entries[current] += 1
        else:
            current = None
    return entries


@pytest.mark.parametrize("script", ["train_mnist.py", "train_celeba.py"])
def test_help_is_grouped_by_topic_with_short_helps(script):
    import os
    import subprocess
    import sys

    from helpers.script_helpers import ROOT

    from kgan.recipes import settings

    result = subprocess.run(
        [sys.executable, str(ROOT / script), "--help"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr
    titles = [
        line[:-1]
        for line in result.stdout.splitlines()
        if line.endswith(":") and not line.startswith(" ")
    ]
    assert titles == ["options", *settings.GROUPS]
    entries = help_entries(result.stdout)
    assert len(entries) > 40
    long = {flag: n for flag, n in entries.items() if n > 2}
    assert long == {}, "help over two lines"
    # Each default said once: in the flag's help, or appended, not both.
    for entry in result.stdout.split("\n  -")[1:]:
        assert entry.count("default") <= 1, entry
