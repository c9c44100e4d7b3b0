"""Steps/s and peak memory: one-step vs alternating vs the arithmetic floor.

Run: `python benchmarks/train_step.py` (add `--sizes 32` or `--steps 10`
for a quicker look). Each variant runs in its own process, on the same
DCGAN pair and batch, side by side in one run; the table prints ratios.

- onestep:      `OneStepGAN` with its default formulation for the loss;
- alternating:  `AlternatingGAN` (a D step, then a G step);
- floor:        one plain Keras `fit` step of a model that runs G once, D on
                the real and the fake batch, and one backward pass over all
                weights: the least a simultaneous GAN step can cost.
Extra rows force a formulation: `literal` (Su's formula as written, the
portable one), `fused` (TensorFlow) and `reversal` (zero-sum losses), to
show what `"auto"` picks from. `--shared-term` adds a term both networks
take that reads D(G(z)) (as O-GAN's correlation does): reversal then needs
a second D pass on the fakes, which is why `"auto"` leaves it.

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


def run_variant(variant, image_size, xla, steps, batch_size, loss, shared):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

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
            self.durations.append(time.perf_counter() - self._start)

    keras.utils.set_random_seed(0)
    z_dim = 128
    g = kgan.models.dcgan_generator(image_size, channels=3, z_dim=z_dim)
    d = kgan.models.dcgan_discriminator(image_size, channels=3)
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
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, size, xla = args.child.split(",")
        result = run_variant(
            variant, int(size), xla, args.steps, args.batch_size, args.loss,
            args.shared_term,
        )  # fmt: skip
        print("RESULT " + json.dumps(result))
        return

    print(
        f"DCGAN pair, batch {args.batch_size}, loss {args.loss}, "
        f"{args.steps} timed steps x {args.rounds} rounds, RMSprop"
        f"{', a shared term' if args.shared_term else ''}; "
        f"CPU threads: {os.cpu_count()}"
    )
    header = (
        f"{'px':>4} {'xla':>4} {'jit':>5} {'variant':>12} {'formulation':>11} "
        f"{'steps/s':>8} {'x floor time':>18} {'vs alt speed':>18} "
        f"{'peak MiB':>9} {'vs alt mem':>10}"
    )
    print(header)
    for size in args.sizes:
        for xla in args.xla:
            rounds = []
            for r in range(args.rounds):
                k = r % len(args.variants)
                order = args.variants[k:] + args.variants[:k]
                rounds.append({v: _child(v, size, xla, args) for v in order})
            for variant in args.variants:
                print(_row(size, xla, variant, rounds), flush=True)


def _row(size, xla, variant, rounds):
    """One table row: medians over rounds, ratios taken within each round."""
    runs = [r[variant] for r in rounds]
    speed = median([r["steps_per_s"] for r in runs])
    peak = median([r["peak_mib"] for r in runs])
    vs_floor = vs_alt = mem = None
    if "floor" in rounds[0]:
        vs_floor = [r["floor"]["steps_per_s"] / r[variant]["steps_per_s"]
                    for r in rounds]  # fmt: skip
    if "alternating" in rounds[0]:
        pairs = list(zip(runs, [r["alternating"] for r in rounds]))
        vs_alt = [r["steps_per_s"] / a["steps_per_s"] for r, a in pairs]
        mem = median([r["peak_mib"] / a["peak_mib"] for r, a in pairs])
    return (
        f"{size:>4} {xla:>4} {runs[0]['jit_compile']:>5} {variant:>12} "
        f"{runs[0]['formulation']:>11} {speed:>8.2f} "
        f"{_fmt_spread(vs_floor):>18} {_fmt_spread(vs_alt):>18} "
        f"{peak:>9.0f} {_fmt(mem):>10}"
    )


def _fmt_spread(ratios):
    """`median (min-max)` of per-round ratios."""
    if ratios is None:
        return "-"
    if len(ratios) == 1:
        return _fmt(ratios[0])
    return f"{median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def _child(variant, size, xla, args):
    cmd = [
        sys.executable, __file__, "--child", f"{variant},{size},{xla}",
        "--steps", str(args.steps), "--batch-size", str(args.batch_size),
        "--loss", args.loss, *(["--shared-term"] * args.shared_term),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{variant} {size}px xla={xla} failed:\n{out.stderr}")


def _fmt(x):
    return "-" if x is None else f"{x:.2f}x"


if __name__ == "__main__":
    main()
