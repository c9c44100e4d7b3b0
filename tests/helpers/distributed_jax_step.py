"""Run as a script: one training step on 1 JAX device vs 2 (DataParallel).

    KERAS_BACKEND=jax python tests/helpers/distributed_jax_step.py CASE ...

Two virtual CPU devices stand for two accelerators
(`--xla_force_host_platform_device_count=2`, set here before JAX starts).
For each case, the same trainer is built twice from the same seed and
takes one step on the same global batch of 8, once without a distribution
and once under `kgan.distribution.place("data-parallel")`, as the scripts
do it. Under JAX's SPMD model the noise, BatchNorm's batch statistics and
the penalties' random draws are those of the whole global batch on both,
so every variable, trainable or not (BN moving statistics, optimizer
slots, EMA, seed states), must come out the same. Prints, per case:

    RESULT case=NAME moved=M diff=D variables=N

M is the largest change of a trainable variable, D the largest difference
between the two runs over all the trainer's and its optimizer's variables.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "")
    + " --xla_force_host_platform_device_count=2"
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402  (the input pipeline only)

import kgan  # noqa: E402
from kgan.losses import GradientPenalty, OrthogonalRegularization  # noqa: E402
from kgan.training import OGAN, AlternatingGAN, OneStepGAN  # noqa: E402

SIZE, Z_DIM, BATCH = 16, 8, 8


def sgd():
    return keras.optimizers.SGD(0.05)


def models(output_dim=1, batch_norm=True, spectral_norm=False):
    g = kgan.models.dcgan_generator(SIZE, 1, Z_DIM, base_channels=8)
    d = kgan.models.dcgan_discriminator(
        SIZE,
        1,
        output_dim=output_dim,
        base_channels=8,
        batch_norm=batch_norm,
        spectral_norm=spectral_norm,
    )
    return g, d


def build(case):
    """The compiled trainer of `case` (built inside the caller's scope);
    a `-fused` suffix asks for the fused formulation."""
    fused = case.endswith("-fused")
    case = case.removesuffix("-fused")
    # "auto" is fused (non-zero-sum losses): the plain cases check literal.
    f = {"formulation": "fused" if fused else "literal"}
    if case == "onestep-hinge":  # BN in G and D
        gan = OneStepGAN(*models(), loss="hinge", seed=1, **f)
        gan.compile(sgd())
    elif case == "onestep-wgan-gp":  # reversal; penalty with random mixes
        gan = OneStepGAN(
            *models(batch_norm=False),
            loss="wgan",
            regularizers=[GradientPenalty(10.0)],
            seed=1,
        )  # reversal
        gan.compile(sgd())
    elif case == "onestep-sn-ortho-ttur-ema":
        gan = OneStepGAN(
            *models(spectral_norm=True, batch_norm=False),
            loss="ns",
            regularizers=[OrthogonalRegularization(1e-3)],
            seed=1,
            **f,
        )
        gan.compile(
            sgd(), g_optimizer=keras.optimizers.SGD(0.02), ema_momentum=0.9
        )
    elif case == "alternating":
        gan = AlternatingGAN(*models(), loss="hinge", seed=1)
        gan.compile(sgd(), keras.optimizers.SGD(0.02), ema_momentum=0.9)
    elif case == "ogan":
        gan = OGAN(*models(output_dim=Z_DIM), seed=1, **f)
        gan.compile(sgd(), ema_momentum=0.9)
    elif case == "mixed-precision":
        keras.config.set_dtype_policy("mixed_float16")
        gan = OneStepGAN(*models(), loss="hinge", seed=1, **f)
        gan.compile(sgd())
    else:
        raise SystemExit(f"unknown case {case}")
    return gan


def numpy(variables):
    return [
        np.asarray(keras.ops.convert_to_numpy(v), "float64") for v in variables
    ]


def one_step(case, mode):
    """Every variable of the trainer of `case` after one step, and the
    trainable ones before it."""
    keras.utils.set_random_seed(0)
    with kgan.distribution.place(mode).scope():
        gan = build(case)
        images = np.random.default_rng(0).uniform(-1, 1, (BATCH, SIZE, SIZE, 1))
        dataset = tf.data.Dataset.from_tensor_slices(
            images.astype("float32")
        ).batch(BATCH)
        start = numpy(gan.trainable_variables)
        gan.fit(dataset, epochs=1, verbose=0)
        after = (
            numpy(gan.trainable_variables),
            numpy(gan.variables + gan.optimizer.variables),
        )
    keras.config.set_dtype_policy("float32")
    return start, *after


if __name__ == "__main__":
    import jax

    assert len(jax.devices()) == 2, jax.devices()
    for case in sys.argv[1:]:
        start, trained, one = one_step(case, "none")
        _, _, two = one_step(case, "data-parallel")
        assert len(one) == len(two)
        moved = max(np.abs(a - b).max() for a, b in zip(trained, start))
        diff = max(np.abs(a - b).max() for a, b in zip(one, two))
        print(
            f"RESULT case={case} moved={moved:.6g} diff={diff:.6g} "
            f"variables={len(one)}",
            flush=True,
        )
