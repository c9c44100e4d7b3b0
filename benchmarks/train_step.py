"""Steps/s and peak memory: one-step vs alternating vs the arithmetic floor.

Run: `python benchmarks/train_step.py` (add `--sizes 32` or `--steps 10`
for a quicker look). Each variant runs in its own process, on the same
DCGAN pair and batch, side by side in one run; the table prints ratios.

- onestep:      `OneStepGAN` with its default formulation for the loss;
- alternating:  `AlternatingGAN` (a D step, then a G step);
- floor:        one plain Keras `fit` step of a model that runs G once, D on
                the real and the fake batch, and one backward pass over all
                weights: the least a simultaneous GAN step can cost.
Extra rows force a formulation: `literal` (Su's formula as written),
`fused` (one D pass on the fakes, two gradients) and `reversal` (zero-sum
losses), to show what `"auto"` picks from.

`--backends tensorflow jax` measures each backend in the same run (each
child process sets `KERAS_BACKEND`); the `x TF floor` column puts every
row against TensorFlow's floor of the same round, so the JAX floor against
TensorFlow's is the backend's own cost and the rest is kgan's. On JAX,
Keras always compiles the step with XLA (`--xla` applies to TensorFlow).

`--shared-term` adds a term both networks take that reads D(G(z)) (as
O-GAN's correlation does): reversal then needs a second D pass on the
fakes, which is why `"auto"` leaves it.

Machines are noisy (this 2-core VM drifts by ~5% between processes), so
`--rounds R` repeats the whole comparison R times, rotating the order of
the variants each round, and reports each variant's median over rounds and
the median (and range) of its per-round ratios.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from statistics import median

# Measure this checkout's kgan, not a copy pip installed earlier.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VARIANTS = ("floor", "alternating", "onestep", "literal", "fused")
EXTRA = ("reversal",)  # ask for it: it needs a zero-sum loss


def run_variant(
    variant, image_size, xla, steps, batch_size, loss, shared, networks
):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    if keras.backend.backend() == "jax":
        xla = "auto"  # Keras compiles every JAX step

    import kgan
    from kgan.training import AlternatingGAN, OneStepGAN

    class StepTimer(keras.callbacks.Callback):
        """Records each training step's wall time."""

        def __init__(self):
            super().__init__()
            self.durations = []

        def on_train_batch_begin(self, batch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            # JAX dispatches steps asynchronously: wait for this one's
            # results (reading a logged value) before stopping the clock.
            for value in (logs or {}).values():
                np.asarray(value)
            self.durations.append(time.perf_counter() - self._start)

    keras.utils.set_random_seed(0)
    z_dim = 128
    if networks == "dcgan":
        g = kgan.models.dcgan_generator(image_size, channels=3, z_dim=z_dim)
        d = kgan.models.dcgan_discriminator(image_size, channels=3)
    elif networks == "resnet":
        g = kgan.models.resnet_generator(
            image_size, channels=3, z_dim=z_dim, hierarchical_latent=False
        )
        d = kgan.models.resnet_discriminator(image_size, channels=3)
    else:  # a preset's networks, at its image size (not --sizes)
        settings = {**kgan.recipes.preset(networks), "channels": 3}
        config = kgan.recipes.RunConfig(**settings)
        g, d = kgan.recipes.build_models(config)
        image_size, z_dim = config.image_size, config.z_dim
    images = np.random.uniform(-1, 1, (batch_size, image_size, image_size, 3))
    images = images.astype("float32")
    jit = "auto" if xla == "auto" else xla == "on"

    def optimizer():
        return keras.optimizers.RMSprop(1e-4, rho=0.99)

    if variant == "floor":
        z_in = keras.Input((z_dim,))
        x_in = keras.Input(images.shape[1:])
        scores = keras.layers.Concatenate(axis=0)([d(g(z_in)), d(x_in)])
        model = keras.Model([z_in, x_in], scores)
        model.compile(optimizer(), loss="mse", jit_compile=jit)
        z = np.random.normal(size=(batch_size, z_dim)).astype("float32")
        x_data = (z, images)
        target = np.zeros((2 * batch_size, 1), "float32")
        data = tf.data.Dataset.from_tensors((x_data, target)).repeat()
    elif variant == "alternating":
        model = AlternatingGAN(g, d, loss=loss)
        model.compile(optimizer(), optimizer(), jit_compile=jit)
        data = tf.data.Dataset.from_tensors(images).repeat()
    else:
        formulation = "auto" if variant == "onestep" else variant
        trainer = OneStepGAN
        if shared:

            class trainer(OneStepGAN):  # noqa: N801 (a local subclass)
                def shared_terms(self, out):
                    mean = keras.ops.mean(out["g_fake_codes"])
                    return {"shared": 0.1 * keras.ops.square(mean)}

        model = trainer(g, d, loss=loss, formulation=formulation)
        model.compile(optimizer(), jit_compile=jit)
        data = tf.data.Dataset.from_tensors(images).repeat()
    rss_before = _rss_mib()
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace, warm up
    timer = StepTimer()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0,
              callbacks=[timer])  # fmt: skip
    # The median step: this VM stalls now and then for seconds, which would
    # swamp a mean over a few steps.
    seconds = steps * float(np.median(timer.durations))
    formulation = getattr(model, "active_formulation", "-")
    return {
        "steps_per_s": steps / seconds,
        "peak_mib": _peak_rss_mib() - rss_before,
        "formulation": formulation,
        "jit_compile": str(model.jit_compile),
    }


def _rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument(
        "--xla", nargs="+", default=["auto", "on"],
        help="jit_compile settings; Keras' auto is off on CPU-only machines",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--loss", default="hinge")
    parser.add_argument(
        "--variants", nargs="+", default=list(VARIANTS),
        choices=VARIANTS + EXTRA,
    )  # fmt: skip
    parser.add_argument(
        "--shared-term", action="store_true",
        help="the one-step trainer gets a shared term that reads D(G(z))",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="repeat the comparison, rotating the variants' order",
    )  # fmt: skip
    parser.add_argument(
        "--backends", nargs="+", choices=("tensorflow", "jax"),
        default=[os.environ.get("KERAS_BACKEND", "tensorflow")],
        help="Keras backends to measure side by side (default: the current)",
    )  # fmt: skip
    parser.add_argument(
        "--networks", default="dcgan",
        help="dcgan (default), resnet (upsampling, no transposed "
        "convolutions), or a preset of kgan.recipes.RUN_PRESETS: its "
        "networks at its image size",
    )  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, size, xla = args.child.split(",")
        result = run_variant(
            variant, int(size), xla, args.steps, args.batch_size, args.loss,
            args.shared_term, args.networks,
        )  # fmt: skip
        print("RESULT " + json.dumps(result))
        return

    print(
        f"{args.networks} networks, batch {args.batch_size}, loss {args.loss}, "
        f"{args.steps} timed steps x {args.rounds} rounds, RMSprop"
        f"{', a shared term' if args.shared_term else ''}; "
        f"CPU threads: {os.cpu_count()}"
    )
    header = (
        f"{'px':>4} {'backend':>10} {'xla':>4} {'jit':>5} {'variant':>12} "
        f"{'formulation':>11} {'steps/s':>8} {'x floor time':>18} "
        f"{'x TF floor':>18} {'vs alt speed':>18} {'peak MiB':>9} "
        f"{'vs alt mem':>10}"
    )
    print(header)
    runs = [
        (backend, variant)
        for backend in args.backends
        for variant in args.variants
    ]
    for size in args.sizes:
        for xla in args.xla:
            rounds = []
            for r in range(args.rounds):
                k = r % len(runs)
                order = runs[k:] + runs[:k]
                rounds.append(
                    {run: _child(*run, size, xla, args) for run in order}
                )
            for run in runs:
                print(_row(size, xla, run, rounds), flush=True)


def _row(size, xla, run, rounds):
    """One table row: medians over rounds, ratios taken within each round."""
    backend, variant = run
    mine = [r[run] for r in rounds]
    speed = median([r["steps_per_s"] for r in mine])
    peak = median([r["peak_mib"] for r in mine])
    vs_floor = vs_tf = vs_alt = mem = None

    def time_ratio(other):
        if other not in rounds[0]:
            return None
        return [r[other]["steps_per_s"] / r[run]["steps_per_s"] for r in rounds]

    vs_floor = time_ratio((backend, "floor"))
    if backend != "tensorflow":
        vs_tf = time_ratio(("tensorflow", "floor"))
    if (backend, "alternating") in rounds[0]:
        alt = [r[(backend, "alternating")] for r in rounds]
        vs_alt = [
            m["steps_per_s"] / a["steps_per_s"] for m, a in zip(mine, alt)
        ]
        mem = median([m["peak_mib"] / a["peak_mib"] for m, a in zip(mine, alt)])
    return (
        f"{size:>4} {backend:>10} {xla:>4} {mine[0]['jit_compile']:>5} "
        f"{variant:>12} {mine[0]['formulation']:>11} {speed:>8.2f} "
        f"{_fmt_spread(vs_floor):>18} {_fmt_spread(vs_tf):>18} "
        f"{_fmt_spread(vs_alt):>18} {peak:>9.0f} {_fmt(mem):>10}"
    )


def _fmt_spread(ratios):
    """`median (min-max)` of per-round ratios."""
    if ratios is None:
        return "-"
    if len(ratios) == 1:
        return _fmt(ratios[0])
    return f"{median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def _child(backend, variant, size, xla, args):
    cmd = [
        sys.executable, __file__, "--child", f"{variant},{size},{xla}",
        "--steps", str(args.steps), "--batch-size", str(args.batch_size),
        "--loss", args.loss, *(["--shared-term"] * args.shared_term),
        "--networks", args.networks,
    ]  # fmt: skip
    env = {**os.environ, "KERAS_BACKEND": backend}
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env=env
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(
        f"{backend} {variant} {size}px xla={xla} failed:\n{out.stderr}"
    )


def _fmt(x):
    return "-" if x is None else f"{x:.2f}x"


if __name__ == "__main__":
    main()
