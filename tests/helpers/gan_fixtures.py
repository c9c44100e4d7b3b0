"""Tiny generators and discriminators for the trainer tests."""

import keras
import numpy as np
from keras import layers


def mlp_generator(z_dim=4, out_dim=2, hidden=16, batch_norm=False, seed=0):
    z = keras.Input((z_dim,), name="z")
    x = layers.Dense(hidden, kernel_initializer=_init(seed))(z)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dense(
        hidden, activation="relu", kernel_initializer=_init(seed + 1)
    )(x)
    x = layers.Dense(
        out_dim, activation="tanh", kernel_initializer=_init(seed + 2)
    )(x)
    return keras.Model(z, x, name="mlp_generator")


def mlp_discriminator(in_dim=2, hidden=16, out_dim=1, norm=None, seed=10):
    """`norm`: None, "batch" or "spectral"."""
    x_in = keras.Input((in_dim,), name="images")

    def dense(units, i):
        layer = layers.Dense(units, kernel_initializer=_init(seed + i))
        if norm == "spectral":
            layer = layers.SpectralNormalization(layer)
        return layer

    x = dense(hidden, 0)(x_in)
    if norm == "batch":
        x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(0.2)(x)
    x = dense(hidden, 1)(x)
    x = layers.LeakyReLU(0.2)(x)
    x = dense(out_dim, 2)(x)
    return keras.Model(x_in, x, name="mlp_discriminator")


def ring_of_gaussians(n, modes=8, radius=0.8, std=0.02, seed=0):
    """The 2-D mixture of 8 Gaussians on a ring; returns (points, mode ids)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, modes, n)
    angles = 2 * np.pi * ids / modes
    centres = np.stack([np.cos(angles), np.sin(angles)], 1) * radius
    points = centres + rng.normal(scale=std, size=(n, 2))
    return points.astype("float32"), ids


def ring_generator(z_dim=2, hidden=64, seed=0):
    """A generator that covers the 8-Gaussian ring in a few hundred steps.

    Its output is linear, not tanh: tanh squashes each coordinate on its
    own, which piles the density on the four axis-aligned modes (after 700
    steps tanh generators covered 4-5 modes with `OneStepGAN`, 6-7 with
    `AlternatingGAN`; the diagonal modes were the ones starved).
    """
    z = keras.Input((z_dim,), name="z")
    x = z
    for i in range(2):
        x = layers.Dense(hidden, kernel_initializer=_init(seed + i))(x)
        x = layers.ReLU()(x)
    x = layers.Dense(2, kernel_initializer=_init(seed + 2))(x)
    return keras.Model(z, x, name="ring_generator")


def ring_discriminator(hidden=128, depth=3, seed=10):
    """A discriminator deep enough to resolve 8 modes on a ring.

    With two hidden layers the GAN hops from mode to mode for the first
    600+ steps; with three, the traced runs covered all 8 by step 300.
    """
    x_in = keras.Input((2,), name="images")
    x = x_in
    for i in range(depth):
        x = layers.Dense(hidden, kernel_initializer=_init(seed + i))(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Dense(1, kernel_initializer=_init(seed + depth))(x)
    return keras.Model(x_in, x, name="ring_discriminator")


def ring_mode_counts(samples, modes=8, radius=0.8, max_distance=0.1):
    """Per mode, how many samples lie within `max_distance` of its centre.

    A sample belongs to the mode whose angle is nearest its own; samples
    far from every centre (between modes, or off the ring) count nowhere.
    """
    samples = np.asarray(samples, "float64")
    step = 2 * np.pi / modes
    angles = np.arctan2(samples[:, 1], samples[:, 0])
    mode = np.round(angles / step).astype(int) % modes
    centres = radius * np.stack([np.cos(mode * step), np.sin(mode * step)], 1)
    near = np.linalg.norm(samples - centres, axis=1) < max_distance
    return np.bincount(mode[near], minlength=modes)


def _init(seed):
    return keras.initializers.GlorotUniform(seed=seed)


class RecordGenerator(keras.callbacks.Callback):
    """Records the generator's trainable weights after every step."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        # `self.model` (not a captured trainer): on JAX it syncs the state.
        variables = self.model.generator.trainable_variables
        self.steps.append(
            [keras.ops.convert_to_numpy(v).copy() for v in variables]
        )
