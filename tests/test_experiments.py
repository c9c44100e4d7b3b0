"""benchmarks/experiments.py and its report, on two tiny runs."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "experiments.py"
TINY = {"base_channels": 8, "z_dim": 16, "batch_size": 16}


@pytest.fixture
def modules(tmp_path, monkeypatch):
    monkeypatch.setenv("KGAN_RESULTS", str(tmp_path / "results"))
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    importlib.reload(importlib.import_module("tables"))  # RESULTS moved
    experiments = importlib.reload(importlib.import_module("experiments"))
    importlib.reload(importlib.import_module("script_runs"))
    report = importlib.reload(importlib.import_module("results_report"))
    return experiments, report


def _train(experiments, overrides, seed=0, steps=4):
    key = experiments.run_key(overrides, seed, steps)
    spec = {
        "key": key,
        "overrides": overrides,
        "seed": seed,
        "steps": steps,
        "eval_every": 2,
        "threads": 2,
        "base": TINY,
    }
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, str(SCRIPT), "child",
                          json.dumps(spec)], env=env, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads((experiments.RUNS / f"{key}.json").read_text())


def test_run_keys_name_each_configuration_once(modules):
    experiments, _ = modules
    keys = {}
    for rows in experiments.TABLES.values():
        for _, overrides in rows:
            key = experiments.run_key(overrides, 0, 600)
            assert keys.setdefault(key, overrides) == overrides
    # The DCGAN / hinge / one-step baseline is shared by four tables.
    assert experiments.run_key({}, 0, 600) == "base_steps-600_seed-0"
    assert len(keys) == 23  # ADA: one row per small-data size


@pytest.mark.slow
def test_runs_record_curves_and_the_report_reads_them(modules):
    experiments, report = modules
    plain = _train(experiments, {})
    ogan = _train(experiments, {"ogan": True})
    for run in (plain, ogan):
        assert [p["step"] for p in run["curve"]] == [2, 4]
        assert all(p["fid_1000"] > 0 for p in run["curve"])
        seconds = [p["seconds"] for p in run["curve"]]
        assert 0 < seconds[0] < seconds[1]
        assert 0 <= run["classes_covered"] <= 10
        assert run["g_params"] > 0 and run["d_params"] > 0
    assert "z_corr" in ogan["curve"][0]
    assert 0 <= ogan["reconstruction_agreement"] <= 1
    assert (experiments.IMAGES / "base_steps-4_seed-0.png").exists()

    report.write_report(steps=4, target=1e6)
    text = report.DOC.read_text()
    for title in ("1. Architectures", "2. SELF-MOD vs plain BN",
                  "5. O-GAN", "7. Loss variety"):  # fmt: skip
        assert f"## {title}" in text
    assert f"{plain['mnist_fid']:.1f}" in text  # the one DCGAN run's FID
    # Every run reaches an FID below 1e6 at its first evaluation (step 2).
    assert "| BN (DCGAN) | 2 | 1/1 |" in text
    assert "## 8." not in text  # no run at the longer budget (2,000 steps)

    # Section 8 reads the `longer` table's runs at its own budget.
    report.write_report(steps=4, target=1e6, long_steps=4)
    longer = report.DOC.read_text().split("## 8. A longer budget: 4 steps")
    assert len(longer) == 2
    assert "| BN (DCGAN) |" in longer[1].split("## Reading")[0]


def test_steps_to_target_and_fid_at_equal_time(modules):
    _, report = modules
    run = {"curve": [
        {"step": 100, "seconds": 10.0, "fid_1000": 40.0},
        {"step": 200, "seconds": 20.0, "fid_1000": 20.0},
        {"step": 300, "seconds": 30.0, "fid_1000": 10.0},
    ]}  # fmt: skip
    assert report.steps_to(run, 20.0) == 200
    assert report.steps_to(run, 5.0) is None
    # 15 lies between the evaluations at 20 s (FID 20) and 30 s (FID 10),
    # read linearly in log FID.
    expected = 20.0 + 10.0 * np.log(20 / 15) / np.log(20 / 10)
    assert report.seconds_to(run, 15.0) == pytest.approx(expected)
    assert report.table_target([[run], [run, run]]) == 10.0
    assert report.fid_at_seconds(run, 25.0) == pytest.approx(15.0)


def test_growing_section_compares_at_equal_steps_and_wall_clock(modules):
    experiments, report = modules
    experiments.RUNS.mkdir(parents=True)
    experiments.IMAGES.mkdir(parents=True)

    def fake(overrides, seed, seconds, fids, final, classes):
        curve = [
            {"step": 100 * (i + 1), "seconds": t, "fid_1000": f}
            for i, (t, f) in enumerate(zip(seconds, fids))
        ]
        run = {"seed": seed, "curve": curve, "mnist_fid": final,
               "classes_covered": classes, "seconds_per_step": 0.1}  # fmt: skip
        key = experiments.run_key(overrides, seed, 200)
        (experiments.RUNS / f"{key}.json").write_text(json.dumps(run))

    plain = {"arch": "stylegan"}
    grown = {"arch": "stylegan", "progressive": True}
    fake(plain, 0, [10.0, 20.0], [300.0, 200.0], 190.0, 4)
    fake(plain, 1, [10.0, 20.0], [320.0, 220.0], 210.0, 5)
    fake(grown, 0, [20.0, 40.0], [100.0, 50.0], 40.0, 9)
    fake(grown, 1, [30.0, 60.0], [90.0, 45.0], 42.0, 7)
    text = report.growing(200)
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines()
            if line.startswith("| StyleGAN")}  # fmt: skip
    # Equal wall-clock: seed 0 at 20 s, seed 1 at 20 s (the plain runs end
    # first); the progressive runs read 100 (seed 0, its first point) and,
    # at 20 s on a line from (0 s, 90) to (30 s, 90), 90.
    assert rows["StyleGAN form"].split(" | ")[5] == "210.0 ± 14.1"
    assert rows["StyleGAN form, progressive"].split(" | ")[5] == "95.0 ± 7.1"
    assert "| 9, 7 |" in rows["StyleGAN form, progressive"]
    assert "MNIST-FID 41.0, lower than the plain form's 200.0" in text
    assert "at least 8 classes: 1/2 runs" in text
    assert report.growing(999) is None  # no runs at that budget


def test_small_data_section_compares_with_and_without_augment(modules):
    experiments, report = modules
    experiments.RUNS.mkdir(parents=True)
    experiments.IMAGES.mkdir(parents=True)
    finals = {
        "plain": ({}, [80.0, 90.0, 100.0]),
        "augment": ({"augment": experiments.AUGMENT}, [40.0, 45.0, 50.0]),
        "ada": (experiments.ADA, [44.0, 46.0, 48.0]),
    }
    for name, (extra, fids) in finals.items():
        overrides = {"train_size": 500, **extra}
        for seed, fid in enumerate(fids):
            run = {"seed": seed, "mnist_fid": fid, "classes_covered": 9,
                   "seconds_per_step": 0.2,
                   "curve": [{"step": 100, "seconds": 1.0, "fid_1000": fid + 5},
                             {"step": 200, "seconds": 2.0,
                              "fid_1000": fid}]}  # fmt: skip
            if name == "ada":
                run["augment_p"] = 0.1 * (seed + 1)
            key = experiments.run_key(overrides, seed, 200)
            (experiments.RUNS / f"{key}.json").write_text(json.dumps(run))
    text = report.small_data(200)
    assert (
        "| 500 digits + DiffAugment | 45.0 ± 5.0 | 40.0, 45.0, 50.0 |" in text
    )
    assert "with DiffAugment MNIST-FID 45.0, lower than 90.0 without" in text
    assert (
        "ADA's adaptive p: MNIST-FID 46.0, lower than no augmentation and "
        "within the seed spread of DiffAugment always on; p ended at 0.10, "
        "0.20, 0.30 (per seed)" in text
    )
    for seed in range(3):  # the checks below compare two rows
        key = experiments.run_key(
            {"train_size": 500, **experiments.ADA}, seed, 200
        )
        (experiments.RUNS / f"{key}.json").unlink()
    assert "1,000 digits" not in text  # no runs: no row, no verdict
    for overrides in (
        {"train_size": 500},
        {"train_size": 500, "augment": experiments.AUGMENT},
    ):
        for seed in (1, 2):
            key = experiments.run_key(overrides, seed, 200)
            (experiments.RUNS / f"{key}.json").unlink()
    text = report.small_data(200)  # seed 0 only
    assert "lower than 80.0 without (one seed each: no spread" in text
    # Section 10's command line is its own, not section 1's.
    command = report.section_command("10. Small data", 2000)
    assert "--tables small_data" in command


def test_default_run_section_checks_each_row_against_the_bar(modules):
    _, report = modules
    import script_runs

    def record(name, fid, minutes, at_once=1, classes=10, resumed=False):
        settings = {"arch": "selfmod", "steps": 10000, "batch_size": 64,
                    "lr": 2e-4, "ema": 0.999}  # fmt: skip
        return {"name": name, "command": script_runs.command(
                    script_runs.ROWS[name]),
                "mnist_fid": fid, "real_vs_real_mnist_fid": 1.5,
                "classes_covered": classes, "wall_seconds": minutes * 60,
                "runs_at_a_time": at_once, "resumed": resumed,
                "settings": settings}  # fmt: skip

    assert report.default_run() is None  # nothing recorded
    script_runs.SCRIPT_RUNS.mkdir(parents=True)
    rows = [
        record("default", 2.9, 10.5),  # 1.93x, in time: meets the bar
        record("no-ema", 3.1, 9.0),  # 2.07x: too far
        record("ttur", 2.0, 9.0, at_once=2),  # beside another run: no bar
        record("batch-128", 2.0, 12.0),  # too slow
        record("selfmod-4000", 2.0, 4.0, classes=9),  # a class missing
        record("dcgan-4000", 2.0, 4.0, resumed=True),  # not one run's time
    ]
    for r in rows:
        (script_runs.SCRIPT_RUNS / f"{r['name']}.json").write_text(
            json.dumps(r)
        )
    text = report.default_run()
    # ROWS' order, whatever the order of the files.
    assert text.index("--arch dcgan --steps 4000") < text.index("--no-ema")
    assert "| `python train_mnist.py` | 2.90 | 1.50 | 1.93x | 10/10 |" in text
    assert "| 2 at a time |" in text and "| alone, resumed |" in text
    assert "Met by: `python train_mnist.py`." in text
    assert "1.93x real vs real) in 10.5 min: the bar **met**." in text
    assert "SELF-MOD, 10,000 steps" in report.default_run_phrase()
    rows[0]["mnist_fid"] = 3.1
    (script_runs.SCRIPT_RUNS / "default.json").write_text(json.dumps(rows[0]))
    text = report.default_run()
    assert "No row meets it." in text and "the bar **not met**." in text


def test_committed_results_md_is_what_the_committed_runs_give(
    modules, tmp_path
):
    # docs/RESULTS.md is generated, never hand-edited, and the run JSONs
    # behind it are in the repository: regenerating it from a copy of
    # docs/results gives the same text (the machine line aside).
    import shutil

    shutil.copytree(ROOT / "docs" / "results", tmp_path / "results",
                    dirs_exist_ok=True)  # fmt: skip
    _, report = modules
    assert len(list(report.RUNS.glob("*.json"))) >= 33
    report.write_report(steps=500)

    def text(path):
        lines = path.read_text().splitlines()
        return [line for line in lines if "Machine:" not in line]

    assert text(report.DOC) == text(ROOT / "docs" / "RESULTS.md")
