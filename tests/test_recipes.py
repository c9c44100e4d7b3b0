"""kgan.recipes: a run as a `RunConfig`, Su's presets, TensorBoard, and
the scripts' one-line endings (`kgan.cli.outcome`)."""

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers.script_helpers import h5_arrays, script_module, script_stops

from kgan import cli, recipes
from kgan.layers import SelfModulatedBatchNormalization
from kgan.recipes import ConfigError, RunConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--base-channels", "4", "--z-dim", "8", "--image-size", "32"]


# -- the config itself -------------------------------------------------------
@pytest.mark.parametrize(
    "settings, message",
    [
        ({"ogan": True, "loss": "hinge"}, "`ogan` trains with Su's GAN-QP"),
        ({"arch": "dcgan", "body": "resnet"}, "`body` chooses the body"),
        ({"attention": 16}, "`attention` needs a ResNet generator"),
        ({"arch": "resnet", "kernel_size": 5}, "3x3 residual blocks"),
        ({"n_critic": 5}, "choose `trainer` alternating"),
        ({"corr_weight": 1.0}, "turn `ogan` on"),
        ({"loss": "hinge", "label_smoothing": 0.1}, "not hinge"),
        ({"ema_scope": "model"}, "give `ema` a momentum"),
        ({"ema": 0.9, "ema_scope": "model", "g_lr": 4e-4}, "drop `g_lr`"),
        ({"ogan": True, "num_classes": 10}, "drop `num_classes`"),
        ({"arch": "vgg"}, "`arch` must be one of dcgan, resnet"),
        ({"steps": 0}, "`steps` must be an integer >= 1"),
        ({"ema": 1.0}, "`ema` must be a number in (0, 1) or 'auto'"),
        ({"style_mixing": 0.9}, "choose `arch` stylegan"),
        ({"arch": "stylegan", "style_mixing": 2.0}, "a probability in"),
        ({"equalized_lr": True}, "drop `equalized_lr`"),
        ({"augment": "color,zoom"}, "Unknown DiffAugment policy item 'zoom'"),
        ({"minibatch_std": True, "batch_size": 6}, "a multiple of 4, not 6"),
    ],
)
def test_settings_that_cannot_work_are_refused_in_one_line(settings, message):
    with pytest.raises(ConfigError) as error:
        RunConfig(**settings)
    text = str(error.value)
    assert message in text and "\n" not in text


def test_none_settings_stand_for_the_rest_of_the_config():
    assert RunConfig().adversarial_loss == "hinge"
    assert RunConfig(ogan=True).adversarial_loss == "gan-qp"
    assert RunConfig(loss="wgan").critic_clip == 0.01
    assert RunConfig(loss="wgan", weight_clip=0.0).critic_clip == 0.0
    assert RunConfig(loss="hinge").critic_clip == 0.0
    assert RunConfig(loss="r1").gradient_penalised
    assert not RunConfig(ogan=True).gradient_penalised
    assert RunConfig(steps=250, checkpoint_every=100).epochs == 3


def test_a_config_round_trips_through_json_and_refuses_unknown_keys():
    config = RunConfig(arch="selfmod", ema=0.999, steps=7, out="x")
    assert RunConfig.from_json(config.to_json()) == config
    values = json.loads(config.to_json())
    values["warp_drive"] = True
    with pytest.raises(ConfigError, match="unknown run settings warp_drive"):
        RunConfig.from_json(json.dumps(values))
    with pytest.raises(ConfigError):
        config.replace(ogan=True, loss="ns")  # replace checks too


def test_library_messages_become_flags_on_the_command_line():
    assert cli.as_flags("drop `kernel_size`, or turn `ogan` off") == (
        "drop --kernel-size, or turn --ogan off"
    )
    assert cli.as_flags("drop `num_classes`.") == "drop --conditional."


def test_nothing_in_the_library_ends_the_process():
    """Library code raises; only the scripts and kgan's one command
    (`python -m kgan.export_samples`, in its `__main__` block) exit (and
    only public Keras API: no keras.src, no private trainer state)."""
    pattern = re.compile(r"sys\.exit|os\._exit|keras\.src|_initial_epoch")
    command = ROOT / "kgan" / "export_samples.py"
    lines = command.read_text().splitlines()
    main_block = lines.index('if __name__ == "__main__":')
    assert [n for n, line in enumerate(lines) if "Exit" in line] == [
        main_block + 1
    ]
    # (the issue's own check: `grep -rn "sys.exit\|keras.src\|_initial_epoch"
    # kgan/`, plus os._exit)
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "kgan").rglob("*.py"))
        if path != command
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_style_options_reach_the_stylegan_generator():
    from kgan.layers import EqualizedDense, StyleMixing

    args = script_module("train_mnist").parse_args(
        ["--arch", "stylegan", "--style-mixing", "0.9", "--equalized-lr"]
        + ["--base-channels", "4", "--z-dim", "8", "--mapping-layers", "1"]
    )
    generator, _ = recipes.build_models(cli.run_config(args, 32, 1))
    mixing = [x for x in _layers(generator) if isinstance(x, StyleMixing)]
    assert [m.probability for m in mixing] == [0.9]
    assert any(isinstance(x, EqualizedDense) for x in _layers(generator))


@pytest.mark.parametrize(
    "trainer", [[], ["--trainer", "alternating"], ["--ogan"]]
)
def test_augment_reaches_every_trainer(trainer):
    from kgan.layers import DiffAugment

    args = script_module("train_mnist").parse_args(
        [*trainer, "--augment", "translation,cutout", "--base-channels", "4"]
    )
    gan, _, _ = recipes.build(cli.run_config(args, 32, 1))
    assert isinstance(gan.augment, DiffAugment)
    assert gan.augment.get_config()["policy"] == "translation,cutout"
    plain = script_module("train_mnist").parse_args([*trainer])
    assert recipes.build(cli.run_config(plain, 32, 1))[0].augment is None


# -- presets -------------------------------------------------------------------
def celeba_config(*flags):
    args = script_module("train_celeba").parse_args(["--data", "x", *flags])
    return cli.run_config(args, channels=3)


def _layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _layers(layer)


def test_each_preset_is_its_script_s_settings_and_typed_flags_win():
    full = {
        name: celeba_config("--preset", name) for name in recipes.RUN_PRESETS
    }
    bn = full["o_gan_celeba"]
    assert (bn.arch, bn.kernel_size, bn.image_size, bn.z_dim) == (
        "dcgan", 5, 128, 128,
    )  # fmt: skip
    assert (bn.batch_size, bn.ogan, bn.corr_weight, bn.ema) == (
        64, True, 0.5, None,
    )  # fmt: skip
    sm = full["o_gan_celeba_sm_4x4"]
    assert (sm.arch, sm.kernel_size, sm.image_size) == ("selfmod", 4, 128)
    big = full["o_gan_celeba_sm_4x4_ema_256"]
    assert (big.image_size, big.z_dim, big.batch_size) == (256, 256, 48)
    assert (big.corr_weight, big.ema, big.ema_scope) == (1.0, 0.999, "model")
    assert big.lr == 1e-4 and not big.resume
    typed = celeba_config("--preset", "o_gan_celeba", "--z-dim", "16")
    assert (typed.z_dim, typed.kernel_size) == (16, 5)


def test_the_bn_preset_builds_su_s_bn_generator_with_5x5_kernels():
    config = celeba_config("--preset", "o_gan_celeba", *TINY)
    gan, generator, discriminator = recipes.build(config)
    kernels = {
        layer.kernel_size
        for model in (generator, discriminator)
        for layer in _layers(model)
        if isinstance(layer, keras.layers.Conv2D)
    }
    assert kernels == {(5, 5)}
    assert not any(
        isinstance(layer, SelfModulatedBatchNormalization)
        for layer in _layers(generator)
    )
    assert any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in _layers(generator)
    )
    assert gan.corr_weight == 0.5


def test_the_256_preset_averages_the_whole_model():
    config = celeba_config(
        "--preset", "o_gan_celeba_sm_4x4_ema_256", *TINY, "--ema", "0.5"
    )
    gan, generator, discriminator = recipes.build(config)
    assert gan.corr_weight == 1.0
    assert any(
        isinstance(layer, SelfModulatedBatchNormalization)
        for layer in _layers(generator)
    )
    images = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3))
    gan.fit(images.astype("float32"), batch_size=4, epochs=1, verbose=0)
    averaged = {id(v) for v in gan.averaged_variables()}
    assert {id(v) for v in discriminator.trainable_variables} <= averaged
    assert {id(v) for v in generator.trainable_variables} <= averaged
    # fit ended by writing the EMA into every weight, D's too: one more
    # step (outside fit) moves the live D weights away from their average.
    gan.train_on_batch(images.astype("float32"))
    kernel = discriminator.trainable_variables[0]
    live = keras.ops.convert_to_numpy(kernel).copy()
    with gan.ema_weights():
        average = keras.ops.convert_to_numpy(kernel).copy()
    assert not np.allclose(live, average)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(kernel), live)


@pytest.mark.parametrize("script", ["train_mnist", "train_celeba"])
def test_help_and_docs_list_every_preset(script, capsys):
    with pytest.raises(SystemExit):
        script_module(script).parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    scripts_doc = (ROOT / "docs" / "SCRIPTS.md").read_text()
    assert "--preset {" + ",".join(recipes.RUN_PRESETS) + "}" in text
    for name, entry in recipes.RUN_PRESETS.items():
        assert f"| `{name}` | `{entry['script']}` |" in scripts_doc


def test_mnist_says_which_preset_settings_do_not_apply(capsys):
    args = script_module("train_mnist").parse_args(
        ["--preset", "o_gan_celeba_sm_4x4", "--base-channels", "4"]
    )
    config = cli.run_config(args, image_size=32, channels=1)
    assert (config.arch, config.ogan, config.image_size) == (
        "selfmod",
        True,
        32,
    )
    assert (
        "kgan: --preset o_gan_celeba_sm_4x4: image_size=128 does not apply "
        "to this script (it trains 32 px images)"
    ) in capsys.readouterr().out


# -- how a script ends -----------------------------------------------------
def test_outcome_gives_one_line_and_the_exit_code(capsys):
    from kgan.distribution import JoinTimeout

    cases = [
        (cli.Failure("bad flag"), (2, False), "error: bad flag"),
        (ConfigError("drop `loss`"), (2, False), "error: drop --loss"),
        (recipes.Interrupted("saved"), (130, False), "error: saved"),
        (recipes.PeerLost("gone"), (1, True), "error: gone"),
        (
            JoinTimeout("late `join_timeout`"),
            (2, True),
            "error: late --join-timeout",
        ),
    ]
    for error, expected, line in cases:

        def main(argv, error=error):
            raise error

        assert cli.outcome(main) == expected
        assert capsys.readouterr().err.strip() == line
    assert cli.outcome(lambda argv: None) == (0, False)

    def bug(argv):
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        cli.outcome(bug)


def test_tensorboard_without_the_package_is_one_line(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboard" else real(name, *a),
    )
    config = RunConfig(out=str(tmp_path), tensorboard=True)
    with script_stops() as stop:
        recipes.run_callbacks(config, gan=None)
    assert stop.code == 2


@pytest.mark.slow
def test_tensorboard_gets_losses_scores_grids_and_the_final_fid(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )
    from tensorboard.util.tensor_util import make_ndarray

    out = tmp_path / "run"
    script_module("train_mnist").main(
        ["--base-channels", "8", "--z-dim", "16", "--batch-size", "8"]
        + ["--steps", "4", "--sample-every", "2", "--checkpoint-every", "2"]
        + ["--out", str(out), "--tensorboard"]
    )
    events = EventAccumulator(str(out / "tensorboard"), {"tensors": 0})
    events.Reload()
    steps = {
        tag: [e.step for e in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }
    for tag in ("train/d_loss", "train/g_loss", "train/real_score",
                "train/fake_score", "samples", "interpolation"):  # fmt: skip
        assert steps[tag] == [2, 4], tag
    assert steps["final/mnist_fid"] == [4]
    metrics = json.loads((out / "metrics.json").read_text())
    logged = float(
        make_ndarray(events.Tensors("final/mnist_fid")[0].tensor_proto)
    )
    assert logged == pytest.approx(metrics["mnist_fid"], rel=1e-5)
    grid = events.Tensors("samples")[-1].tensor_proto.string_val
    assert grid[:2] == [b"256", b"256"]  # 8x8 digits of 32 px
    history = (out / "history.csv").read_text().splitlines()
    d_loss = [float(row.split(",")[history[0].split(",").index("d_loss")])
              for row in history[1:]]  # fmt: skip
    logged = float(
        make_ndarray(events.Tensors("train/d_loss")[-1].tensor_proto)
    )
    assert logged == pytest.approx(d_loss[-1], rel=1e-5)
    config = RunConfig.from_json((out / "config.json").read_text())
    assert (config.steps, config.tensorboard, config.z_dim) == (4, True, 16)


# -- resume: the run's own settings --------------------------------------------
def test_resume_takes_the_run_s_settings_and_the_typed_flags(tmp_path, capsys):
    parse = script_module("train_mnist").parse_args
    first = cli.run_config(
        parse(["--out", str(tmp_path), "--arch", "selfmod", "--z-dim", "16",
               "--seed", "3", "--conditional", "--lr", "3e-4"]),  # fmt: skip
        image_size=32, channels=1, num_classes=10,
    )  # fmt: skip
    (tmp_path / "config.json").write_text(first.to_json())
    resumed = cli.run_config(
        parse(["--out", str(tmp_path), "--resume", "--steps", "9000"]),
        image_size=32, channels=1, num_classes=None,  # --conditional not typed
    )  # fmt: skip
    assert (resumed.arch, resumed.z_dim, resumed.seed) == ("selfmod", 16, 3)
    assert (resumed.num_classes, resumed.lr) == (10, 3e-4)
    assert (resumed.steps, resumed.resume) == (9000, True)
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith("config.json; from the command line: --steps 9000")
    )
    # Without --resume the command line is the whole story.
    fresh = cli.run_config(parse(["--out", str(tmp_path)]), 32, 1)
    assert (fresh.arch, fresh.z_dim) == ("selfmod", 64)


def test_a_damaged_saved_config_falls_back_to_the_command_line(
    tmp_path, capsys
):
    (tmp_path / "config.json").write_text('{"arch": "resnet", "z_')
    args = script_module("train_mnist").parse_args(
        ["--out", str(tmp_path), "--resume", "--z-dim", "24"]
    )
    config = cli.run_config(args, 32, 1)
    assert (config.arch, config.z_dim) == ("selfmod", 24)
    assert "warning: cannot read" in capsys.readouterr().out


def test_typed_flags_are_recorded_exactly():
    args = script_module("train_celeba").parse_args(
        ["--data", "x", "--no-ogan", "--lr=3e-4", "--image-size", "64"]
    )
    assert args.typed == {"data", "ogan", "lr", "image_size"}
    with pytest.raises(SystemExit):  # no abbreviations: typed means typed
        script_module("train_celeba").parse_args(["--image-s", "64"])


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_minibatch_std_reaches_the_discriminator(arch):
    from kgan.layers import MinibatchStandardDeviation

    def has_it(discriminator):
        return any(
            isinstance(layer, MinibatchStandardDeviation)
            for layer in _layers(discriminator)
        )

    small = {"image_size": 16, "channels": 1, "z_dim": 8, "base_channels": 8}
    _, plain = recipes.build_models(RunConfig(arch=arch, **small))
    _, with_std = recipes.build_models(
        RunConfig(arch=arch, minibatch_std=True, **small)
    )
    assert not has_it(plain) and has_it(with_std)
    scores = with_std(np.zeros((8, 16, 16, 1), "float32"))
    assert tuple(scores.shape) == (8, 1)


# -- progressive growing through the scripts ----------------------------------
def test_progressive_is_refused_where_kgan_has_no_progressive_form():
    for arch in ("resnet", "selfmod"):
        with pytest.raises(ConfigError, match="use `arch` stylegan"):
            RunConfig(progressive=True, arch=arch)
    with pytest.raises(ConfigError, match="without `num_classes`"):
        RunConfig(progressive=True, num_classes=10)
    RunConfig(progressive=True, arch="stylegan", num_classes=10)
    generator, _ = recipes.build_models(
        RunConfig(progressive=True, equalized_lr=True, image_size=16,
                  channels=1, z_dim=8, base_channels=8)
    )  # fmt: skip
    assert type(generator.get_layer("dense")).__name__ == "EqualizedDense"
    schedule = RunConfig(progressive=True, steps=1500).progressive_schedule
    assert schedule == (375, 187)  # 4, 8, 16, 32 px: four equal stages


def test_a_progressive_run_fits_its_ema_to_the_stages(capsys):
    def mnist_config(*flags):
        args = script_module("train_mnist").parse_args(list(flags))
        return cli.run_config(args, image_size=32, channels=1)

    assert mnist_config("--steps", "1500").ema == 0.999  # not growing
    fitted = mnist_config("--progressive", "--steps", "1500")
    # 375-step stages: a half-life of 375 / 8 steps.
    assert fitted.ema == pytest.approx(0.5 ** (1 / (375 / 8)))
    out = capsys.readouterr().out
    assert "EMA momentum 0.9853 (a half-life of 47 steps" in out
    kept = mnist_config("--progressive", "--steps", "1500", "--ema", "0.999")
    assert kept.ema == 0.999
    assert "has a half-life of 693 steps, over half" in capsys.readouterr().out
    assert mnist_config("--progressive", "--no-ema").ema is None
    # A long run's stages are long enough for the default.
    assert mnist_config("--progressive", "--steps", "60000").ema == 0.999


def test_progressive_without_arch_grows_the_dcgan_form(capsys):
    """train_mnist.py's default architecture ("auto": SELF-MOD) has no
    progressive form: with --progressive it becomes dcgan, and the run says
    so; a typed one is kept or refused, never replaced."""

    def mnist_config(*flags, num_classes=None):
        args = script_module("train_mnist").parse_args(list(flags))
        return cli.run_config(args, 32, 1, num_classes)

    assert mnist_config().arch == "selfmod"
    assert mnist_config("--progressive").arch == "dcgan"
    assert (
        "--progressive: --arch dcgan (PGGAN's form), since the default, "
        "selfmod, has no progressive form"
    ) in capsys.readouterr().out
    assert mnist_config("--progressive", "--arch", "stylegan").arch == (
        "stylegan"
    )
    assert "since the default" not in capsys.readouterr().out
    for flags, num_classes in (
        (["--progressive", "--arch", "selfmod"], None),
        (["--progressive", "--conditional"], 10),
    ):
        with pytest.raises(cli.Failure, match="--progressive grows the"):
            mnist_config(*flags, num_classes=num_classes)


def test_code_and_flags_train_the_same_run_from_the_same_settings(tmp_path):
    """The run policies ("auto" settings) live in the config, not in the
    command line: a notebook's RunConfig and the script's flags give one
    run, EMA fitted to the stages included."""
    out = str(tmp_path / "run")
    args = script_module("train_mnist").parse_args(
        ["--out", out, "--progressive", "--steps", "1500"]
    )
    flags = cli.run_config(args, image_size=32, channels=1)
    code = RunConfig(
        out=out, progressive=True, steps=1500, arch="auto", ema="auto",
        z_dim=64, base_channels=32, lr=2e-4,
    )  # fmt: skip
    assert code == flags
    assert (code.arch, code.ema) == ("dcgan", 0.5 ** (8 / 375))
    built = [recipes.build(config) for config in (code, flags)]
    for gan, generator, _ in built:
        assert generator.name == built[0][1].name
        assert generator.count_params() == built[0][1].count_params()
        momentum = gan.generator_optimizer().ema_momentum
        assert momentum == pytest.approx(0.5 ** (8 / 375))


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["dcgan", "stylegan"])
def test_a_progressive_run_resumed_mid_fade_equals_an_uninterrupted_one(
    arch, tmp_path, monkeypatch
):
    import os
    import signal

    from kgan.callbacks import training_step
    from kgan.layers import ProgressiveBlend

    main = script_module("train_mnist").main
    common = ["--progressive", "--arch", arch, "--base-channels", "8"]
    common += ["--z-dim", "16"]
    common += ["--batch-size", "8", "--steps", "16", "--no-ema"]
    common += ["--checkpoint-every", "4", "--sample-every", "100"]
    main([*common, "--out", str(tmp_path / "whole")])

    class StopAtFive(keras.callbacks.Callback):  # level 0.5: mid-fade
        def on_train_batch_end(self, batch, logs=None):
            if training_step(self.model) == 5:
                os.kill(os.getpid(), signal.SIGTERM)

    real = recipes.run_callbacks
    with monkeypatch.context() as patch:
        patch.setattr(
            recipes,
            "run_callbacks",
            lambda *a, **k: [*real(*a, **k), StopAtFive()],
        )
        code, _ = cli.outcome(main, [*common, "--out", str(tmp_path / "split")])
    assert code == 130
    main(["--out", str(tmp_path / "split"), "--resume"])
    whole, split = (
        h5_arrays(tmp_path / name / "checkpoint" / "step_000000016.weights.h5")
        for name in ("whole", "split")
    )
    assert whole.keys() == split.keys() and len(whole) > 20
    for key in whole:
        np.testing.assert_allclose(
            whole[key], split[key], rtol=1e-5, atol=1e-6, err_msg=key
        )
    generator = keras.models.load_model(tmp_path / "split" / "generator.keras")
    blend = [x for x in _layers(generator) if isinstance(x, ProgressiveBlend)]
    assert [float(keras.ops.convert_to_numpy(b.level)) for b in blend] == [3.0]
    assert generator.outputs[0].shape[1:] == (32, 32, 1)
