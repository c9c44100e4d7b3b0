"""The transposed convolution's gradient on JAX: autodiff of Keras' op
against kgan.layers.FastConv2DTranspose (the adjoint), side by side.

Each row is one stage of kgan's DCGAN generator (kernel 4, stride 2,
"same"), timed as `jax.jit(jax.grad(...))` of `sum(out * g)` with respect
to the kernel and the input, both layers on the same weights and inputs in
one process, alternating, so the ratio is what the machine's noise leaves
alone. The largest gradient difference between the two is printed too.

    KERAS_BACKEND=jax python benchmarks/conv_transpose.py --batch 64

On TensorFlow the two layers run the same op, so the script refuses.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kgan.layers import FastConv2DTranspose  # noqa: E402

# (input px, input channels, output channels): DCGAN's stages at 64 px,
# width 64 (512x4x4 ... 64x32x32, then 3 channels).
STAGES = [(4, 512, 256), (8, 256, 128), (16, 128, 64), (32, 64, 3)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args(argv)


def gradient_step(layer, params):
    import jax

    def loss(params, x, g):  # x, g as arguments: XLA cannot fold them
        out, _ = layer.stateless_call(params, [], x)
        return (out * g).sum()

    return jax.jit(jax.grad(loss, argnums=(0, 1)))


def seconds(step, *args):
    import jax

    start = time.perf_counter()
    jax.block_until_ready(step(*args))
    return time.perf_counter() - start


def main(argv=None):
    args = parse_args(argv)
    if keras.backend.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax: elsewhere both are Keras' op")
    import jax

    rng = np.random.default_rng(0)
    print(f"JAX {jax.__version__}, batch {args.batch}, {args.rounds} rounds, "
          f"median ms per gradient; CPU threads: {os.cpu_count()}")  # fmt: skip
    print(f"{'stage':>22} {'autodiff':>9} {'adjoint':>8} {'speed-up':>9} "
          f"{'max rel diff':>12}")  # fmt: skip
    for size, cin, cout in STAGES:
        x = rng.normal(size=(args.batch, size, size, cin)).astype("float32")
        g = rng.normal(size=(args.batch, 2 * size, 2 * size, cout))
        g = g.astype("float32")
        config = dict(filters=cout, kernel_size=4, strides=2, padding="same")
        keras_layer = keras.layers.Conv2DTranspose(**config)
        fast_layer = FastConv2DTranspose(**config)
        keras_layer.build(x.shape)
        fast_layer.build(x.shape)
        fast_layer.set_weights(keras_layer.get_weights())
        params = [v.value for v in keras_layer.trainable_variables]
        steps = [gradient_step(keras_layer, params), gradient_step(fast_layer, params)]
        results = [step(params, x, g) for step in steps]  # compiles
        times = [[], []]
        for _ in range(args.rounds):
            for i, step in enumerate(steps):
                times[i].append(seconds(step, params, x, g))
        slow, fast = (statistics.median(t) * 1000 for t in times)
        leaves = [jax.tree_util.tree_leaves(r) for r in results]
        diff = max(
            float(np.max(np.abs(a - b)) / np.max(np.abs(a)))
            for a, b in zip(*leaves, strict=True)
        )
        stage = f"{size}->{2 * size} px, {cin}->{cout}"
        print(f"{stage:>22} {slow:9.1f} {fast:8.1f} {slow / fast:8.1f}x "
              f"{diff:12.1e}")  # fmt: skip


if __name__ == "__main__":
    main()
