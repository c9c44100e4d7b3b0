"""benchmarks/gpu_check.py: a CPU smoke run, and its refusal without a GPU."""

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow_only]

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
NO_GPU = (
    "no GPU visible: this check is for a GPU machine; "
    "add --allow-cpu for a smoke run"
)


def _run(*flags, timeout):
    # Hide any GPU, so that both tests mean the same on every machine.
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, str(SCRIPT), *flags],
        capture_output=True, text=True, timeout=timeout, env=env, check=False,
    )  # fmt: skip


def test_quick_cpu_run_fills_every_section(tmp_path):
    out = _run("--quick", "--allow-cpu", "--json", str(tmp_path / "gpu.json"),
               timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    results = json.loads((tmp_path / "gpu.json").read_text())
    rows = results["rows"]
    memory = [r for r in rows if r["check"] == "memory"]
    rows = [r for r in rows if r["check"] != "memory"]
    for row in rows:
        assert row["image_size"] == 32 and "error" not in row, row
        assert math.isfinite(row["images_per_s"]) and row["images_per_s"] > 0
    # The presets' peak memory: the CPU smoke measures the default MNIST
    # run at its batch (resident growth; a GPU reports its device's peak).
    assert [(r["run"], r["batch"], r["where"]) for r in memory] == [
        ("mnist_default", 64, "RSS")
    ]
    assert memory[0]["peak"] > 2**20 and "GiB at batch 64" in out.stdout

    steps = {(r["run"], r["xla"]) for r in rows if r["check"] == "train step"}
    variants = ("floor", "alternating", "onestep")
    assert steps == set(itertools.product(variants, ("off",)))
    pipeline = [r["run"] for r in rows if r["check"] == "input pipeline"]
    assert pipeline == [
        "image_folder",
        "train step, batch in memory",
        "train step fed by image_folder",
    ]
    scaling = [r for r in rows if r["check"] == "data parallel"]
    assert [r["devices"] for r in scaling] == [1]
    assert scaling[0]["efficiency"] == pytest.approx(1.0)
    assert "only the 1-device row" in results["scaling_note"]

    hardware = results["hardware"]
    assert hardware["gpus"] == [] and hardware["cpu_count"] >= 1
    assert hardware["date"].endswith("UTC")
    # The printed table is the one in the JSON, ready for the README.
    assert results["table"] in out.stdout
    assert results["table"].startswith(f"GPU check, {hardware['date']}")
    assert "| check | run | px | XLA | images/s | compared |" in out.stdout


def test_without_a_gpu_it_refuses_in_one_line():
    out = _run(timeout=300)
    assert out.returncode == 2
    assert out.stderr.splitlines().count(NO_GPU) == 1
    assert "Traceback" not in out.stderr
    assert out.stdout == ""
