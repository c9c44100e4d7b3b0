"""GPU check: kgan's training speed on a GPU machine, in one table.

Measures, at 64 and 128 px (DCGAN pair, hinge loss, batch 64, RMSprop):

- train step: steps/s of `floor` (the arithmetic least a simultaneous GAN
  step costs), `alternating` (`AlternatingGAN`) and `onestep`
  (`OneStepGAN`), with XLA off and on, each in its own process, by
  benchmarks/train_step.py;
- input pipeline: images/s that `kgan.data.image_folder` delivers against
  the images/s that input_pipeline.py's DCGAN-sized one-step train step
  (plain `keras.layers`) consumes, and the two together (end to end), by
  benchmarks/input_pipeline.py's functions (synthetic CelebA-like JPEGs
  unless `--data` names a folder);
- data-parallel scaling: `OneStepGAN` images/s under the scripts'
  `--distribution data-parallel` (`kgan.distribution.place`:
  MirroredStrategy, or Keras' DataParallel with KERAS_BACKEND=jax) over
  1, 2, ... N visible GPUs with the same batch per GPU (weak
  scaling), and efficiency = images/s(N) / (N * images/s(1)); each device
  count in its own process.

Run it on a GPU machine (every run is a fresh process, so it takes
minutes, more with more GPUs):

    python benchmarks/gpu_check.py --json gpu_check.json

Whenever a GPU machine is at hand, run it and paste the table it prints
into docs/SCALE_OUT.md with its header line (date and hardware). Never run
it in CI. `--quick --allow-cpu` is a smoke run of the whole path at 32 px on a
CPU; its numbers say nothing about a GPU.
"""

## Setup

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from statistics import median

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
BENCHMARKS = Path(__file__).resolve().parent
# Measure this checkout's kgan, and reuse the sibling benchmarks.
sys.path[:0] = [str(BENCHMARKS.parent), str(BENCHMARKS)]

VARIANTS = ("floor", "alternating", "onestep")
XLA = ("off", "on")
BATCH_SIZE = 64  # input_pipeline.py's, so that the sections compare
NO_GPU = (
    "no GPU visible: this check is for a GPU machine; "
    "add --allow-cpu for a smoke run"
)
# --quick: every section once at 32 px with a handful of steps (CPU smoke).
# XLA stays off there: compiling the step with XLA is what makes the CPU
# smoke slow, and XLA's speed is a GPU question.
QUICK = {"sizes": [32], "steps": 3, "pipeline_batches": 3, "images": 128,
         "xla": ("off",)}  # fmt: skip
FULL = dict(sizes=[64, 128], steps=30, pipeline_batches=20, images=2000,
            xla=XLA)  # fmt: skip


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--sizes", type=int, nargs="+", help="image sizes (default: 64 128)")
    add("--steps", type=int, help="timed steps per run (default: 30)")
    add("--data", help="image folder for the pipeline (default: synthetic)")
    add("--quick", action="store_true",
        help="32 px, 3 steps, XLA off: a smoke run")  # fmt: skip
    add("--allow-cpu", action="store_true", help="run without a GPU")
    add("--json", help="also write the results to this file")
    add("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    args.sizes = args.sizes or preset["sizes"]
    args.steps = args.steps or preset["steps"]
    args.pipeline_batches = preset["pipeline_batches"]
    args.images = preset["images"]
    args.xla = preset["xla"]
    return args


## Hardware


def hardware(gpus):
    import keras
    import tensorflow as tf

    # TensorFlow's names honour CUDA_VISIBLE_DEVICES; nvidia-smi's do not.
    details = map(tf.config.experimental.get_device_details, gpus)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "gpus": [d.get("device_name", "GPU") for d in details],
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def _cpu_name():
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    names = re.findall(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return names[0] if names else "unknown CPU"


## Measure
# Every run is a fresh process: none inherits another's compiled graphs,
# memory or device set-up. The parent only turns results into rows.


def _result(cmd, env=None):
    """The `RESULT {json}` that a child prints, or an error for the table."""
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env=env
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    # One failed cell should not lose the rest of a long GPU run.
    print(out.stderr[-3000:], file=sys.stderr)
    lines = out.stderr.strip().splitlines() or ["no output"]
    return {"error": lines[-1][:200].replace("|", "/")}  # a table cell


def _self(args, child):
    cmd = [sys.executable, __file__, "--child", child]
    cmd += ["--steps", str(args.steps), "--sizes", *map(str, args.sizes)]
    cmd += ["--quick"] if args.quick else []
    return cmd + (["--data", args.data] if args.data else [])


def train_step_rows(args):
    rows = []
    for size, xla in itertools.product(args.sizes, args.xla):
        group = []
        for variant in VARIANTS:
            result = _result([
                sys.executable, str(BENCHMARKS / "train_step.py"),
                "--child", f"{variant},{size},{xla}",
                "--steps", str(args.steps), "--batch-size", str(BATCH_SIZE),
            ])  # fmt: skip
            row = {"check": "train step", "run": variant, "image_size": size}
            row.update(xla=xla, **result)
            if "steps_per_s" in row:
                row["images_per_s"] = row["steps_per_s"] * BATCH_SIZE
            group.append(row)
        floor = group[VARIANTS.index("floor")].get("steps_per_s")
        for row in group:
            if floor and "steps_per_s" in row:
                row["ratio"] = floor / row["steps_per_s"]
                row["compared"] = f"{row['ratio']:.2f}x the floor's step time"
        rows += group
    return rows


def pipeline_rows(args):
    result = _result(_self(args, "pipeline"))
    rows = []
    for size in args.sizes:
        r = result.get(str(size), result)
        row = {"check": "input pipeline", "image_size": size}
        if "error" in r:
            rows.append({**row, "run": "image_folder", "error": r["error"]})
            continue
        ratio = r["pipeline"] / r["in_memory"]
        target = "ok" if ratio >= 5 else "below the 5x target"
        fed = r["fed"] / r["in_memory"]
        rows += [
            {**row, "run": "image_folder", "xla": "-",
             "images_per_s": r["pipeline"], "ratio": ratio,
             "compared": f"{ratio:.2f}x the train step ({target})"},
            {**row, "run": "train step, batch in memory", "xla": "off",
             "images_per_s": r["in_memory"]},
            {**row, "run": "train step fed by image_folder", "xla": "off",
             "images_per_s": r["fed"], "ratio": fed,
             "compared": f"{fed:.2f}x in memory"},
        ]  # fmt: skip
    return rows


def scaling_rows(args, gpu_count):
    """Weak scaling: the first k visible GPUs, k = 1..N, one process each."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = visible.split(",") if visible else [str(i) for i in range(gpu_count)]
    rows = []
    for k in range(1, max(gpu_count, 1) + 1):
        env = dict(os.environ)
        if gpu_count:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(ids[:k])
        result = _result(_self(args, "scaling"), env)
        for size in args.sizes:
            unit = "CPU" if not gpu_count else "GPU" if k == 1 else "GPUs"
            row = {"check": "data parallel", "run": f"OneStepGAN, {k} {unit}"}
            row.update(devices=k, image_size=size)
            rows.append({**row, **result.get(str(size), result)})
    single = {r["image_size"]: r.get("images_per_s")
              for r in rows if r["devices"] == 1}  # fmt: skip
    for r in rows:
        if single[r["image_size"]] and "images_per_s" in r:
            r["efficiency"] = r["images_per_s"] / (
                r["devices"] * single[r["image_size"]]
            )
            r["compared"] = f"{r['efficiency']:.0%} efficiency"
    return rows


## Children


def measure_pipeline(args):
    import input_pipeline as bench
    import tensorflow as tf

    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or tmp
        if not args.data:
            bench.write_celeba_like(folder, args.images)
        for size in args.sizes:
            pipeline, dataset = bench.pipeline_rate(
                folder, size, args.pipeline_batches
            )
            held = tf.random.uniform((bench.BATCH_SIZE, size, size, 3), -1, 1)
            step = bench.make_train_step(size)
            result[size] = {
                "pipeline": pipeline,
                "in_memory": bench.step_rate(
                    step, itertools.repeat(held), args.steps
                ),
                "fed": bench.step_rate(step, iter(dataset), args.steps),
            }
    return result


def memory_rows(args):
    """Peak device memory per step of the presets at their own batch (the
    measured counterpart of docs/PERFORMANCE.md's memory tables)."""
    import memory

    names = ["mnist_default"] if args.quick else list(memory.RUNS)
    rows = []
    for name in names:
        result = _result(_self(args, f"memory:{name}"))
        row = {"check": "memory", "run": name, "xla": "-", **result}
        row["image_size"] = memory.settings_of(name)["image_size"]
        if "peak" in result:
            row["compared"] = (
                f"peak {result['peak'] / 2**30:.2f} GiB at batch "
                f"{result['batch']} ({result['where']})"
            )
        rows.append(row)
    return rows


def measure_memory(args, name):
    import memory
    import tensorflow as tf

    batch = memory.settings_of(name)["batch_size"]
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:  # the CPU smoke run: the process's resident growth
        return {**memory.measured(name, batch), "batch": batch, "where": "RSS"}
    gan, images = memory.build(name, batch)
    data = tf.data.Dataset.from_tensors(images).repeat()
    gan.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
    return {"peak": peak, "batch": batch, "where": "GPU:0"}


def measure_scaling(args):
    import keras
    import tensorflow as tf

    import kgan

    warm_up = 3  # the first steps trace the step and fill the caches

    class StepEnds(keras.callbacks.Callback):
        """Stamps each step's end. Keras turns the logs of a callback like
        this one into floats, so each stamp waits for the devices."""

        def on_train_begin(self, logs=None):
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())

    # What the scripts' --distribution data-parallel sets up (TensorFlow:
    # MirroredStrategy; KERAS_BACKEND=jax: keras.distribution.DataParallel).
    placement = kgan.distribution.place("data-parallel")
    result = {}
    for size in args.sizes:
        keras.utils.set_random_seed(0)
        with placement.scope():
            gan = kgan.training.OneStepGAN(
                kgan.models.dcgan_generator(size, channels=3, z_dim=128),
                kgan.models.dcgan_discriminator(size, channels=3),
                loss="hinge",
                seed=0,
            )
            gan.compile(optimizer=keras.optimizers.RMSprop(1e-4, rho=0.99))
        # Same batch per replica: the global batch grows with the replicas.
        batch = BATCH_SIZE * placement.replicas
        images = tf.random.uniform((batch, size, size, 3), -1, 1, seed=0)
        data = tf.data.Dataset.from_tensors(images).repeat()
        ends = StepEnds()
        with placement.scope():
            gan.fit(data, steps_per_epoch=warm_up + args.steps, verbose=0,
                    callbacks=[ends])  # fmt: skip
        # The median step, as train_step.py: one stall would swamp a mean.
        timed = ends.times[warm_up - 1 :]
        step = median(b - a for a, b in zip(timed, timed[1:]))
        result[size] = {
            "images_per_s": batch / step,
            "replicas": placement.replicas,
            # Keras' "auto" leaves XLA off under tf.distribute.
            "xla": "auto: " + ("on" if gan.jit_compile else "off"),
        }
        keras.backend.clear_session()
    return result


## Report


def markdown(results):
    """The header line (date, hardware) and one table, for docs/SCALE_OUT.md."""
    hw = results["hardware"]
    lines = [
        f"GPU check, {hw['date']}: {', '.join(hw['gpus']) or 'no GPU'}; "
        f"{hw['cpu_count']} CPU cores ({hw['cpu']}); TensorFlow "
        f"{hw['tensorflow']}, Keras {hw['keras']}; batch {BATCH_SIZE} per "
        f"device, {results['steps']} timed steps",
        "",
        "| check | run | px | XLA | images/s | compared |",
        "| --- | --- | --- | --- | ---: | --- |",
    ]
    for r in results["rows"]:
        run = r["run"]
        if r.get("formulation", "-") != "-":
            run += f" ({r['formulation']})"
        if "error" in r:
            value = "failed"
        elif "images_per_s" in r:
            value = f"{r['images_per_s']:.0f}"
        else:
            value = "-"
        compared = r.get("error", r.get("compared", ""))
        lines.append(
            f"| {r['check']} | {run} | {r['image_size']} | "
            f"{r.get('xla', '-')} | {value} | {compared} |"
        )
    if results["scaling_note"]:
        lines += ["", results["scaling_note"]]
    return "\n".join(lines)


def _scaling_note(gpu_count):
    if gpu_count > 1:
        return ""
    seen = "no GPU" if gpu_count == 0 else "one GPU"
    return (
        f"Data-parallel scaling: {seen} visible, so only the 1-device row; "
        "a multi-GPU machine measures the scaling."
    )


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        measure = {"pipeline": measure_pipeline, "scaling": measure_scaling}
        kind, _, name = args.child.partition(":")
        if kind == "memory":
            result = measure_memory(args, name)
        else:
            result = measure[kind](args)
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.allow_cpu:
        print(NO_GPU, file=sys.stderr)
        return 2
    results = {"hardware": hardware(gpus), "steps": args.steps}
    results["batch_size"] = BATCH_SIZE
    print(f"{len(gpus)} GPU(s): timing the train steps", flush=True)
    rows = train_step_rows(args)
    print("timing the input pipeline", flush=True)
    rows += pipeline_rows(args)
    print("timing data-parallel scaling", flush=True)
    rows += scaling_rows(args, len(gpus))
    print("measuring the presets' peak memory", flush=True)
    rows += memory_rows(args)
    results["rows"] = rows
    results["scaling_note"] = _scaling_note(len(gpus))
    results["table"] = markdown(results)
    print("\n" + results["table"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
