"""The network behind the MNIST-FID, and the digits it takes."""

import keras
import numpy as np

from kgan.metrics.features import check_images

FILTERS = (16, 32, 64)
FEATURE_UNITS = 128
_SIZE = 32


def to_digit_images(images):
    """Images as float32 `(n, 32, 32, 1)` digits in [-1, 1].

    28x28 digits get the 2-pixel background border `load_mnist` adds;
    other sizes are resized with antialiasing; RGB is averaged to grey.
    """
    images = check_images(images)
    if images.shape[-1] == 3:
        images = images.mean(axis=-1, keepdims=True)
    if images.shape[-1] != 1:
        raise ValueError(
            "MNIST images must have 1 (or 3) channels. Received: images of "
            f"shape {images.shape}"
        )
    if images.shape[1:3] == (28, 28):
        pad = ((0, 0), (2, 2), (2, 2), (0, 0))
        images = np.pad(images, pad, constant_values=-1.0)
    elif images.shape[1:3] != (_SIZE, _SIZE):
        images = keras.ops.convert_to_numpy(
            keras.ops.image.resize(images, (_SIZE, _SIZE), antialias=True)
        )
    return np.clip(images, -1.0, 1.0).astype("float32")


def build_mnist_cnn(seed=0, filters=FILTERS, feature_units=FEATURE_UNITS):
    """The digit CNN: 3x3 convs with max pooling, a Dense feature layer.

    Args:
        seed: seed of the initial weights and of the dropout.
        filters: filters of the conv layers, each followed by 2x2 pooling.
        feature_units: width of the Dense layer whose pre-activation
            output gives the MNIST-FID features (layer name "features").

    Returns:
        A Functional model, `(n, 32, 32, 1)` images -> `(n, 10)` softmax.
    """

    def init(i):
        return keras.initializers.GlorotUniform(seed=seed + i)

    def conv(width, i):
        return keras.layers.Conv2D(
            width,
            3,
            padding="same",
            activation="relu",
            kernel_initializer=init(i),
            dtype="float32",
        )

    # Explicit float32 layers: a global mixed policy must not change the
    # metric, which is part of what the cached file promises.
    inputs = keras.Input((_SIZE, _SIZE, 1), dtype="float32", name="images")
    x = inputs
    for i, width in enumerate(filters):
        x = conv(width, i)(x)
        x = keras.layers.MaxPooling2D(dtype="float32")(x)
    x = keras.layers.Flatten(dtype="float32")(x)
    x = keras.layers.Dropout(0.3, seed=seed, dtype="float32")(x)
    x = keras.layers.Dense(
        feature_units,
        kernel_initializer=init(len(filters)),
        name="features",
        dtype="float32",
    )(x)
    x = keras.layers.ReLU(dtype="float32")(x)
    x = keras.layers.Dropout(0.3, seed=seed + 1, dtype="float32")(x)
    outputs = keras.layers.Dense(
        10,
        activation="softmax",
        kernel_initializer=init(len(filters) + 1),
        name="probabilities",
        dtype="float32",
    )(x)
    return keras.Model(inputs, outputs, name=f"mnist_classifier_{seed}")
