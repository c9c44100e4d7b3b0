"""The run folder in the library: its checks, lock, history, write
failures, and the settings a checkpoint fixes (fast; the scripts' faults
end to end are in test_run_folder_scripts.py)."""

import dataclasses
import errno
import functools
import json
import os
import socket
import tempfile

import keras
import numpy as np
import pytest
from helpers.gan_fixtures import (
    mlp_discriminator,
    mlp_generator,
    ring_of_gaussians,
)
from helpers.script_helpers import h5_arrays

from kgan import recipes
from kgan._files import WriteError, atomic_path, reserve_space
from kgan.recipes.folder import check_writable, trim_history, write_failed
from kgan.recipes.lock import LOCK_FILE, FolderLock

TINY = dict(base_channels=8, z_dim=16, batch_size=8)


def config(tmp_path, **settings):
    return recipes.RunConfig(out=str(tmp_path / "run"), **{**TINY, **settings})


# -- the settings a checkpoint fixes ----------------------------------------
@functools.lru_cache(maxsize=None)
def checkpoint_layout(settings):
    """What a checkpoint of the trainer of `settings` (sorted items) holds:
    the name and shape of every array in its weights file."""
    keras.backend.clear_session()
    cfg = recipes.RunConfig(**{"out": "unused", **TINY, **dict(settings)})
    gan, _, _ = recipes.build(cfg)
    if not gan.optimizer.built:
        gan.optimizer.build(gan.trainable_variables)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "layout.weights.h5")
        gan.save_weights(path)
        arrays = h5_arrays(path)
    return {name: array.shape for name, array in arrays.items()}


# (base settings, the change): one case per setting, in the context where
# it matters; the layouts of the two trainers say whether a checkpoint of
# one loads into the other.
CASES = {
    "image_size": ({}, {"image_size": 64}),
    "channels": ({}, {"channels": 3}),
    "num_classes": ({}, {"num_classes": 10}),
    "arch": ({}, {"arch": "selfmod"}),
    "body": ({"arch": "selfmod"}, {"body": "resnet"}),
    "z_dim": ({}, {"z_dim": 32}),
    "base_channels": ({}, {"base_channels": 16}),
    "max_channels": ({}, {"max_channels": 8}),
    "kernel_size": ({}, {"kernel_size": 5}),
    "spectral_norm": ({}, {"spectral_norm": True}),
    "spectral_norm off": ({"arch": "resnet"}, {"spectral_norm": False}),
    "spectral_norm default": ({}, {"spectral_norm": False}),
    "attention": ({"arch": "resnet"}, {"attention": 16}),
    "mapping_layers": ({"arch": "stylegan"}, {"mapping_layers": 2}),
    "mapping_layers unused": ({}, {"mapping_layers": 2}),
    "progressive": ({}, {"progressive": True}),
    "style_mixing": ({"arch": "stylegan"}, {"style_mixing": 0.9}),
    "equalized_lr": ({"arch": "stylegan"}, {"equalized_lr": True}),
    "minibatch_std": ({}, {"minibatch_std": True}),
    "ogan": ({}, {"ogan": True}),
    "corr_weight": ({"ogan": True}, {"corr_weight": 1.0}),
    "loss family": ({}, {"loss": "wgan-gp"}),
    "loss": ({}, {"loss": "ns"}),
    "weight_clip": ({}, {"weight_clip": 0.1}),
    "label_smoothing": ({"loss": "ns"}, {"label_smoothing": 0.1}),
    "instance_noise": ({}, {"instance_noise": 0.1}),
    "augment": ({}, {"augment": "color"}),
    "augment policy": ({"augment": "color"}, {"augment": "translation"}),
    "augment_target": ({"augment": "color"}, {"augment_target": 0.6}),
    "augment_kimg": (
        {"augment": "color", "augment_target": 0.6},
        {"augment_kimg": 10},
    ),
    "trainer": ({}, {"trainer": "alternating"}),
    "n_critic": ({"trainer": "alternating"}, {"n_critic": 3}),
    "lr": ({}, {"lr": 3e-4}),
    "g_lr": ({}, {"g_lr": 3e-4}),
    "g_lr alternating": ({"trainer": "alternating"}, {"g_lr": 3e-4}),
    "ema": ({}, {"ema": 0.999}),
    "ema momentum": ({"ema": 0.999}, {"ema": 0.99}),
    "ema_scope": ({"ema": 0.999}, {"ema_scope": "model"}),
    "steps": ({}, {"steps": 5}),
    "batch_size": ({}, {"batch_size": 16}),
    "seed": ({}, {"seed": 3}),
    "xla": ({}, {"xla": "off"}),
    "out": ({}, {"out": "elsewhere"}),
    "data": ({}, {"data": "elsewhere"}),
    "crop": ({}, {"crop": "celeba"}),
    "formulation": ({}, {"formulation": "literal"}),
    "resume": ({}, {"resume": True}),
    "sample_every": ({}, {"sample_every": 3}),
    "checkpoint_every": ({}, {"checkpoint_every": 7}),
    "truncation": ({}, {"truncation": 1.0}),
    "tensorboard": ({}, {"tensorboard": True}),
}


def test_every_setting_is_covered_by_a_case():
    # A new RunConfig field must say here whether a checkpoint fixes it.
    # (mixed_precision changes no variable: its loss scale is not saved.)
    changed = {name for _, change in CASES.values() for name in change}
    fields = {f.name for f in dataclasses.fields(recipes.RunConfig)}
    assert fields - changed == {"mixed_precision"}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_checkpoint_settings_are_exactly_those_that_change_the_variables(
    case,
):
    base, change = CASES[case]
    before = recipes.RunConfig(**{"out": "unused", **TINY, **base})
    after = before.replace(**change)
    declared = bool(recipes.changed_checkpoint_settings(before, after))
    actual = checkpoint_layout(
        tuple(sorted(base.items()))
    ) != checkpoint_layout(tuple(sorted({**base, **change}.items())))
    assert declared == actual, (case, declared, actual)


@pytest.mark.jax
def test_a_refused_resume_names_each_setting_and_both_values(tmp_path):
    saved = config(tmp_path, arch="selfmod", z_dim=64)
    typed = saved.replace(arch="dcgan", z_dim=32, steps=9, resume=True)
    with pytest.raises(recipes.SettingsChanged) as refused:
        recipes.resume.check_resumable(saved, typed, saved.out)
    message = str(refused.value)
    assert "`arch` selfmod -> dcgan, `z_dim` 64 -> 32)" in message
    assert "body" not in message and "steps" not in message  # follows arch
    assert "\n" not in message
    # A consequence of another setting is named by what it changed.
    ttur = config(tmp_path, lr=1e-4, g_lr=2e-4)
    assert recipes.changed_checkpoint_settings(ttur, ttur.replace(lr=2e-4)) == [
        ("g_lr", True, False)
    ]


# -- checks before the first write ------------------------------------------
@pytest.mark.jax
def test_an_out_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    with pytest.raises(recipes.FolderUnusable, match="is a file"):
        check_writable(str(a_file))
    with pytest.raises(recipes.FolderUnusable) as under_file:
        check_writable(str(a_file / "run"))
    assert "(Not a directory)" in str(under_file.value)
    with pytest.raises(recipes.FolderUnusable) as proc:
        check_writable("/proc/kgan-run")
    assert "/proc/kgan-run" in str(proc.value)
    real = os.makedirs

    def read_only(name, *args, **kwargs):
        if str(tmp_path / "ro") in str(name):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(os, "makedirs", read_only)
    with pytest.raises(recipes.FolderUnusable) as ro:
        check_writable(str(tmp_path / "ro" / "run"))
    assert str(ro.value) == (
        f"cannot write the run folder `out` {tmp_path / 'ro' / 'run'} "
        "(Read-only file system): choose another `out`, or make it writable."
    )
    assert a_file.read_text() == "mine" and os.listdir(tmp_path) == ["a-file"]


# -- one writer ---------------------------------------------------------------
@pytest.mark.jax
def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(
    tmp_path, capsys
):
    folder = str(tmp_path)
    first = FolderLock(folder).acquire()
    holder = json.loads((tmp_path / LOCK_FILE).read_text())
    assert (holder["pid"], holder["host"]) == (
        os.getpid(),
        socket.gethostname(),
    )
    # flock locks an open file, so a second open in this process is a
    # second writer, like another process.
    with pytest.raises(recipes.RunLocked) as refused:
        FolderLock(folder).acquire()
    assert f"another run is writing into {folder}: pid {os.getpid()}" in str(
        refused.value
    )
    first.release()
    assert not (tmp_path / LOCK_FILE).exists()
    # A run killed while holding the lock leaves the file, not the lock.
    dead = {"host": "elsewhere", "pid": 4242, "started": "2026-01-01T00:00"}
    (tmp_path / LOCK_FILE).write_text(json.dumps(dead))
    second = FolderLock(folder).acquire()
    assert (
        "taking over the lock of a run that ended without releasing it "
        "(pid 4242 on elsewhere, started 2026-01-01T00:00)"
    ) in capsys.readouterr().out
    second.release()


@pytest.mark.jax
def test_open_run_refuses_an_earlier_run_and_checks_again_each_time(tmp_path):
    cfg = config(tmp_path)
    with recipes.open_run(cfg) as folder:
        checkpoint = tmp_path / "run" / "checkpoint"
        checkpoint.mkdir()
        (checkpoint / "step_000000010.weights.h5").write_bytes(b"w")
        # The same process asks again (a notebook's second run): checked.
        with pytest.raises(recipes.RunExists, match="add `resume`"):
            recipes.open_run(cfg)
        assert recipes.open_run(cfg.replace(resume=True)) is folder
        assert folder.lock.held
    assert not folder.lock.held


# -- history: each step once ---------------------------------------------
def test_history_past_the_loaded_step_and_cut_rows_are_dropped(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(
        "epoch,d_loss,step\n0,1.5,5\n1,1.2,10\n2,1.1,15\n3,1.0,20\n4,0.9"
    )  # the last row cut short by a full disk
    trim_history(str(tmp_path), 10)
    assert path.read_text().splitlines() == [
        "epoch,d_loss,step", "0,1.5,5", "1,1.2,10",
    ]  # fmt: skip


# -- a failing write ------------------------------------------------------
def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial_one(
    tmp_path,
):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(WriteError) as failed:
        with atomic_path(target) as tmp, open(tmp, "w") as f:
            f.write("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert failed.value.filename == str(target)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_space_is_asked_for_before_the_write(tmp_path, monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    path = tmp_path / "step_000000010.weights.h5"
    with pytest.raises(WriteError) as refused:
        reserve_space(path, 3 << 20)
    assert refused.value.errno == errno.ENOSPC
    assert refused.value.filename == str(path)
    assert "it needs about 3.0 MiB" in str(refused.value)
    assert os.listdir(tmp_path) == []

    # A file system that cannot allocate ahead: its free space decides.
    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    reserve_space(path, 1)
    with pytest.raises(WriteError, match="No space left"):
        reserve_space(path, 1 << 62)


@pytest.mark.parametrize("saved", [True, False])
def test_a_write_failure_says_what_failed_and_where_to_resume(tmp_path, saved):
    out = tmp_path / "run"
    if saved:
        (out / "checkpoint").mkdir(parents=True)
        (out / "checkpoint" / "checkpoint.json").write_text(
            '{"step": 20, "weights": "step_000000020.weights.h5"}'
        )
    grid = out / "samples" / "samples_000030.png"
    error = OSError(errno.ENOSPC, "No space left on device", str(grid))
    failure = write_failed(error, str(out))
    assert isinstance(failure, recipes.WriteFailed)
    assert failure.exit_code == 1 and not failure.end_at_once
    message = str(failure)
    assert message.startswith(
        f"could not write {grid}: No space left on device, "
    )
    assert " free there; " in message
    if saved:
        assert message.endswith(
            "the last good checkpoint is step 20 "
            f"({out / 'checkpoint' / 'step_000000020.weights.h5'}): free "
            "some space (or raise the limit), then run the same command "
            "with `resume`."
        )
    else:
        assert message.endswith(
            "no checkpoint was written yet: free some space (or raise the "
            "limit), then start again."
        )


@pytest.mark.jax
def test_a_checkpoint_that_does_not_fit_the_disk_is_not_started(
    tmp_path, monkeypatch
):
    from kgan import callbacks as kc
    from kgan.training import OneStepGAN

    gan = OneStepGAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(keras.optimizers.Adam(1e-3))
    checkpoint = kc.Checkpoint(str(tmp_path), save_freq=2)
    data = ring_of_gaussians(64)[0]
    gan.fit(data, batch_size=8, epochs=1, steps_per_epoch=2,
            callbacks=[checkpoint], verbose=0)  # fmt: skip
    before = sorted(os.listdir(tmp_path))
    monkeypatch.setattr(
        os,
        "posix_fallocate",
        lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")),
    )
    with pytest.raises(WriteError) as failed:
        gan.fit(data, batch_size=8, epochs=2, steps_per_epoch=2,
                callbacks=[checkpoint], verbose=0)  # fmt: skip
    assert failed.value.filename == str(tmp_path / "step_000000004.weights.h5")
    assert sorted(os.listdir(tmp_path)) == before  # nothing partial
    assert checkpoint.latest()[1] == 2
    np.testing.assert_equal(checkpoint.load(gan), 2)  # still loads
