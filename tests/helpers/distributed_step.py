"""Run as a script: one training step on 1 vs 2 replicas (logical CPUs).

Prints the smaller update of G's bias and D's first kernel, and the largest
difference between the weights' updates on 1 and 2 replicas. The generator
learns only a bias (its z-path is frozen at zero), so the step does not
depend on how the noise is split across replicas, and any difference is a
loss-scaling error.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

from kgan.training import OGAN, AlternatingGAN, OneStepGAN  # noqa: E402


def build(codes=1):
    keras.utils.set_random_seed(0)
    z = keras.Input((4,))
    # Compared runs freeze G's z-path at zero (see above); O-GAN needs G to
    # depend on z.
    ogan = codes > 1
    x = keras.layers.Dense(
        2,
        kernel_initializer="glorot_uniform" if ogan else "zeros",
        use_bias=False,
        trainable=ogan,
    )(z)
    x = keras.layers.Dense(2, kernel_initializer="identity")(x)
    g = keras.Model(z, x)
    i = keras.Input((2,))
    h = keras.layers.Dense(
        8,
        activation="tanh",
        kernel_initializer=keras.initializers.GlorotUniform(1),
    )(i)
    d = keras.Model(i, keras.layers.Dense(codes)(h))
    return g, d


def one_step(strategy, loss, variant):
    """`variant`: a OneStepGAN formulation with `+ttur` (a generator
    learning rate of its own), `+ema` (a weight EMA), `+mixed`
    (mixed_float16); `alternating`; or `ogan` (its loss needs z, which
    each replica draws for itself: only run, not compared)."""
    formulation, *extras = variant.split("+")
    if "mixed" in extras:
        keras.config.set_dtype_policy("mixed_float16")
    with strategy.scope():
        g, d = build(codes=4 if variant == "ogan" else 1)
        if variant == "alternating":
            gan = AlternatingGAN(g, d, loss=loss, seed=1)
            gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.05))
        elif variant == "ogan":
            gan = OGAN(g, d, seed=1)
            gan.compile(keras.optimizers.SGD(0.1), ema_momentum=0.9)
        else:
            gan = OneStepGAN(g, d, loss=loss, formulation=formulation, seed=1)
            gan.compile(
                optimizer=keras.optimizers.SGD(0.1),
                g_optimizer=keras.optimizers.SGD(0.05)
                if "ttur" in extras
                else None,
                ema_momentum=0.9 if "ema" in extras else None,
            )
    keras.config.set_dtype_policy("float32")
    data = np.random.default_rng(0).uniform(-1, 1, (8, 2)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(data).batch(8)
    before = [v.numpy() for v in gan.trainable_variables]
    gan.fit(ds, epochs=1, verbose=0)
    moved = [v.numpy() - b for v, b in zip(gan.trainable_variables, before)]
    # and the optimizers' state: slots, step counters, the EMA
    return moved + [np.asarray(v.numpy()) for v in gan.optimizer.variables]


if __name__ == "__main__":
    # Each argument is one case, `loss:variant`; every case runs in this
    # one process (TensorFlow starts once) and prints its own RESULT line.
    # One strategy of each kind for every case: a second MirroredStrategy in
    # the same process reuses collective instance keys and clashes.
    single = tf.distribute.OneDeviceStrategy("/cpu:0")
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for case in sys.argv[1:]:
        loss, variant = case.split(":")
        keras.backend.clear_session()
        one = one_step(single, loss, variant)
        two = one_step(mirrored, loss, variant)
        moved = min(np.abs(a).max() for a in (one[1], one[2]))
        finite = all(np.isfinite(a).all() for a in one + two)
        diff = max(np.abs(a - b).max() for a, b in zip(one, two))
        print(f"RESULT case={case} moved={moved:.6g} diff={diff:.6g} "
              f"finite={finite}", flush=True)  # fmt: skip
