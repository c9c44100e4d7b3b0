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


def _init(seed):
    return keras.initializers.GlorotUniform(seed=seed)
