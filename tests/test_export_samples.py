"""Exporting samples as PNG files for clean-fid / torch-fidelity, and the
quiet start of kgan's commands."""

import os
import subprocess
import sys

import imageio.v2 as imageio
import numpy as np
import pytest
from helpers.script_helpers import ROOT

import kgan.sampling
from kgan.models import dcgan_generator
from kgan.sampling import export_samples, num_classes_of, sample

pytestmark = pytest.mark.jax


@pytest.fixture(scope="module")
def conditional_generator():
    return dcgan_generator(
        16, 1, 16, num_classes=3, base_channels=8, max_channels=16
    )


def read_pngs(folder):
    names = sorted(os.listdir(folder))
    return names, np.stack([imageio.imread(folder / n) for n in names])


def test_export_writes_uint8_pngs_of_the_samples_every_class_equally(
    conditional_generator, tmp_path, monkeypatch
):
    # Chunks of 2, so the per-chunk seeds [seed, k] are exercised.
    monkeypatch.setattr(kgan.sampling, "EXPORT_CHUNK", 2)
    paths = export_samples(conditional_generator, tmp_path, 5, seed=7)
    names, pngs = read_pngs(tmp_path)
    assert names == [f"{i:06d}.png" for i in range(5)]
    assert paths == [str(tmp_path / n) for n in names]
    assert pngs.dtype == np.uint8 and pngs.shape == (5, 16, 16)

    labels = np.array([0, 1, 2, 0, 1])  # i % 3
    chunks = [
        sample(conditional_generator, 2, labels=labels[0:2], seed=[7, 0]),
        sample(conditional_generator, 2, labels=labels[2:4], seed=[7, 1]),
        sample(conditional_generator, 1, labels=labels[4:5], seed=[7, 2]),
    ]
    images = np.concatenate(chunks)[..., 0]
    expected = np.clip(np.rint((images + 1.0) * 255.0 / 2.0), 0, 255)
    np.testing.assert_array_equal(pngs, expected.astype(np.uint8))

    again = tmp_path / "again"
    export_samples(conditional_generator, again, 5, seed=7)
    np.testing.assert_array_equal(read_pngs(again)[1], pngs)


def test_export_one_class_and_class_checks(conditional_generator, tmp_path):
    assert num_classes_of(conditional_generator) == 3
    export_samples(conditional_generator, tmp_path, 2, labels=2, seed=1)
    _, pngs = read_pngs(tmp_path)
    images = sample(conditional_generator, 2, labels=2, seed=[1, 0])[..., 0]
    expected = np.clip(np.rint((images + 1.0) * 127.5), 0, 255)
    np.testing.assert_array_equal(pngs, expected.astype(np.uint8))
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\)"):
        export_samples(conditional_generator, tmp_path / "x", 2, labels=3)


def run_tool(*args):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "KGAN_QUIET_START")
    }
    return subprocess.run(
        [sys.executable, "-m", "kgan.export_samples", *map(str, args)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.tensorflow_only  # the command's plumbing; the library is tested
def test_export_command_is_quiet_and_its_errors_one_line(
    conditional_generator, tmp_path
):
    path = tmp_path / "generator.keras"
    conditional_generator.save(path)
    out = tmp_path / "samples"
    done = run_tool(path, "--out", out, "--count", "3", "--seed", "0")
    assert done.returncode == 0, done.stderr
    # A quiet start: none of TensorFlow's start-up lines or CUDA noise.
    assert done.stderr == ""
    assert done.stdout.strip() == f"wrote 3 images to {out}"
    assert len(os.listdir(out)) == 3

    mixed = run_tool(path, "--out", out, "--count", "3")
    missing = run_tool(tmp_path / "none.keras", "--out", tmp_path / "o")
    label = run_tool(path, "--out", tmp_path / "l", "--label", "5")
    for result, words in [
        (mixed, "already holds PNG files"),
        (missing, "no generator at"),
        (label, "--label must be class ids in [0, 3)"),
    ]:
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], result.stderr
