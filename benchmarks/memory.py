"""Peak training memory per step for Su's presets and the default MNIST run.

    python benchmarks/memory.py --backend jax          # compiled-step analysis
    python benchmarks/memory.py --backend tensorflow   # measured on the CPU

Every measurement runs in a fresh process. On JAX, the train step is
compiled (never run) at the preset's own batch and at two small batches,
and XLA's memory analysis of the compiled step gives its peak: arguments
(weights, optimizer state) + temporaries + outputs - donated buffers. On
TensorFlow, a few steps run on the CPU at two small batches and the peak
resident memory above the process's start (after imports) is read; peak is
linear in the batch (weights and optimizer state are fixed, activations
grow with it), so the line through the two gives the preset's batch and
the largest batch that fits a 16, 24, 40 and 80 GB accelerator (weights
and activations only: a GPU framework adds its own workspace, so leave a
margin). `--check` also measures JAX's compiled step's real peak on the CPU
at a small batch, against the analysis.
"""

import argparse
import json
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GIB = 2**30
DEVICES_GB = (16, 24, 40, 80)

# name -> RunConfig settings: the default MNIST run (train_mnist.py's
# defaults; "auto" arch and EMA resolve to SELF-MOD and 0.999) and Su's
# three O-GAN CelebA scripts (kgan.recipes.RUN_PRESETS).
RUNS = {
    "mnist_default": dict(
        arch="selfmod", z_dim=64, base_channels=32, image_size=32,
        channels=1, batch_size=64, ema=0.999,
    ),
    "o_gan_celeba": "o_gan_celeba",
    "o_gan_celeba_sm_4x4": "o_gan_celeba_sm_4x4",
    "o_gan_celeba_sm_4x4_ema_256": "o_gan_celeba_sm_4x4_ema_256",
}  # fmt: skip


def settings_of(name):
    from kgan import recipes

    entry = RUNS[name]
    if isinstance(entry, str):
        return {"channels": 3, **recipes.preset(entry)}
    return dict(entry)


def build(name, batch):
    import keras
    import numpy as np

    from kgan import recipes

    settings = {**settings_of(name), "batch_size": batch}
    config = recipes.RunConfig(**settings)
    keras.utils.set_random_seed(0)
    gan, _, _ = recipes.build(config)
    size, channels = config.image_size, config.channels
    images = np.zeros((batch, size, size, channels), "float32")
    return gan, images


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def jax_analysis(name, batch):
    """XLA's memory analysis of the compiled (not run) train step."""
    import jax

    gan, images = build(name, batch)
    gan.optimizer.build(gan.trainable_variables)

    def spec(variables):
        return [jax.ShapeDtypeStruct(v.shape, v.dtype) for v in variables]

    state = (
        spec(gan.trainable_variables),
        spec(gan.non_trainable_variables),
        spec(gan.optimizer.variables),
        spec(gan.metrics_variables),
    )
    data = jax.ShapeDtypeStruct(images.shape, images.dtype)
    compiled = jax.jit(gan.train_step).lower(state, data).compile()
    m = compiled.memory_analysis()
    peak = (
        m.argument_size_in_bytes
        + m.output_size_in_bytes
        + m.temp_size_in_bytes
        - m.alias_size_in_bytes
    )
    return {
        "peak": peak,
        "arguments": m.argument_size_in_bytes,
        "temp": m.temp_size_in_bytes,
        "params": int(gan.count_params()),
    }


def measured(name, batch, steps=2):
    """Peak resident memory above the start, over `steps` real steps."""
    import tensorflow as tf

    start = rss_bytes()
    gan, images = build(name, batch)
    data = tf.data.Dataset.from_tensors(images).repeat()
    gan.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return {"peak": peak_rss_bytes() - start, "params": int(gan.count_params())}


def child(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.child == "analysis":
        result = jax_analysis(args.run, args.batch)
    else:
        result = measured(args.run, args.batch)
    print("RESULT " + json.dumps(result), flush=True)


def run_child(backend, kind, run, batch):
    env = {**os.environ, "KERAS_BACKEND": backend}
    cmd = [sys.executable, __file__, "--child", kind, "--run", run,
           "--batch", str(batch)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(
        f"{backend} {kind} {run} b={batch}:\n{out.stderr[-3000:]}"
    )


def fits(line, memory_gb):
    """The largest batch whose peak fits `memory_gb` (GB = 1e9 bytes)."""
    fixed, per_image = line
    return max(0, int((memory_gb * 1e9 - fixed) // per_image))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("jax", "tensorflow"),
                        default="jax")  # fmt: skip
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--batches", nargs=2, type=int, default=[4, 8])
    parser.add_argument(
        "--check", action="store_true",
        help="JAX: also run the step and measure its peak",
    )  # fmt: skip
    parser.add_argument("--child", choices=("analysis", "measured"))
    parser.add_argument("--run", choices=RUNS)
    parser.add_argument("--batch", type=int)
    args = parser.parse_args()
    if args.child:
        return child(args)

    kind = "analysis" if args.backend == "jax" else "measured"
    small, large = args.batches
    print(f"{args.backend}: peak training memory per step ({kind}), GiB")
    sizes = " | ".join(f"max batch {g} GB" for g in DEVICES_GB)
    print(f"| run | px | params | batch | peak at batch | {sizes} |")
    print("|---" * (5 + len(DEVICES_GB)) + "|")
    for name in args.runs:
        from kgan import recipes

        settings = settings_of(name)
        batch = settings["batch_size"]
        a = run_child(args.backend, kind, name, small)
        b = run_child(args.backend, kind, name, large)
        per_image = (b["peak"] - a["peak"]) / (large - small)
        fixed = a["peak"] - per_image * small
        if args.backend == "jax":
            at_batch = run_child("jax", kind, name, batch)["peak"]
        else:
            at_batch = fixed + per_image * batch
        maxes = " | ".join(str(fits((fixed, per_image), g)) for g in DEVICES_GB)
        print(
            f"| {name} | {settings['image_size']} | {a['params'] / 1e6:.1f}M "
            f"| {batch} | {at_batch / GIB:.2f} | {maxes} |",
            flush=True,
        )
        del recipes
    if args.check and args.backend == "jax":
        for name in args.runs[:1]:
            predicted = run_child("jax", "analysis", name, small)["peak"]
            real = run_child("jax", "measured", name, small)["peak"]
            print(
                f"check {name} batch {small}: analysis "
                f"{predicted / GIB:.2f} GiB, measured RSS {real / GIB:.2f} GiB"
            )


if __name__ == "__main__":
    main()
