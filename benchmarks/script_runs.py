"""Runs of `python train_mnist.py` itself, as a user types them: RESULTS.md
section 11, the measurements behind the script's defaults.

    python benchmarks/experiments.py script                  # every row
    python benchmarks/experiments.py script default --workers 1

Each row runs the script in a subprocess with its own flags (everything
else is the script's default: all 5,000 digits, both cores, its generator
EMA), times the whole command (start-up and the final metric included) and
keeps metrics.json's numbers, the settings it ran with and its last sample
grid in docs/results/. A row already recorded is not run again; a row whose
output folder exists unrecorded (a killed run) continues with `--resume`,
and the record says so, because its wall time is then not one run's.
"""

import concurrent.futures
import datetime
import json
import os
import shutil
import subprocess
import sys
import time

from tables import IMAGES, RESULTS, ROOT

SCRIPT_RUNS = RESULTS / "script_runs"
OUT = ROOT / "runs" / "script_runs"

# name -> the flags after `python train_mnist.py`. One axis per row away
# from the default; the wider or larger-batch rows train fewer steps, for
# about the default's wall time.
ROWS = {
    "dcgan-4000": ["--arch", "dcgan", "--steps", "4000"],  # the old default
    "selfmod-4000": ["--steps", "4000"],
    "default": [],
    "dcgan-10000": ["--arch", "dcgan"],
    "no-ema": ["--no-ema"],
    "ttur": ["--lr", "4e-4", "--g-lr", "1e-4"],  # Heusel et al.'s 4:1
    "batch-128": ["--batch-size", "128", "--steps", "5000"],
    "width-48": ["--base-channels", "48", "--steps", "4500"],
    "augment": ["--augment", "translation,cutout,color"],
}


def command(flags):
    return " ".join(["python train_mnist.py", *flags])


def run_row(name, workers):
    out = OUT / name
    resumed = (out / "config.json").exists()
    flags = ROWS[name]
    argv = [sys.executable, str(ROOT / "train_mnist.py"), *flags]
    argv += ["--out", str(out)] + (["--resume"] if resumed else [])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return f"{name}: failed\n{done.stderr[-2000:]}"
    metrics = json.loads((out / "metrics.json").read_text())
    settings = json.loads((out / "config.json").read_text())
    settings.pop("out", None)
    grids = sorted((out / "samples").glob("samples_*.png"))
    IMAGES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(grids[-1], IMAGES / f"script_{name}.png")
    record = {
        "name": name,
        "command": command(flags),
        "mnist_fid": metrics["mnist_fid"],
        "real_vs_real_mnist_fid": metrics["real_vs_real_mnist_fid"],
        "classes_covered": metrics["classes_covered"],
        "class_shares": metrics["class_shares"],
        "wall_seconds": seconds,
        "runs_at_a_time": workers,
        "resumed": resumed,
        "date": datetime.date.today().isoformat(),
        "settings": settings,
    }
    SCRIPT_RUNS.mkdir(parents=True, exist_ok=True)
    path = SCRIPT_RUNS / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)  # a killed run leaves no half-written record
    return f"{name}: MNIST-FID {metrics['mnist_fid']:.2f} in {seconds:.0f} s"


def run_rows(names, workers):
    done = {path.stem for path in SCRIPT_RUNS.glob("*.json")}
    todo = [name for name in names or ROWS if name not in done]
    print(f"{len(todo)} script runs to do, {workers} at a time", flush=True)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for line in pool.map(lambda n: run_row(n, workers), todo):
            print(line, flush=True)


def records():
    """The recorded rows, in ROWS' order."""
    found = []
    for name in ROWS:
        path = SCRIPT_RUNS / f"{name}.json"
        if path.exists():
            found.append(json.loads(path.read_text()))
    return found
