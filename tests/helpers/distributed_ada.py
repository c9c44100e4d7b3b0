"""Run as a script: ADA's probability after 2 steps on 1 vs 2 replicas.

D scores every image 1 (a zero kernel, a bias of 1, SGD(0)), so every
verdict is "real", r_t = 1 above the target, and p must rise by the global
batch per interval whatever the replicas: each replica sees half the batch
and the variables' "mean" aggregation must keep them in step.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

from kgan.layers import DiffAugment  # noqa: E402
from kgan.training import OneStepGAN  # noqa: E402


def probability_after_fit(strategy):
    with strategy.scope():
        z = keras.Input((4,))
        x = keras.layers.Dense(16, activation="tanh")(z)
        g = keras.Model(z, keras.layers.Reshape((4, 4, 1))(x))
        i = keras.Input((4, 4, 1))
        score = keras.layers.Dense(
            1, kernel_initializer="zeros", bias_initializer="ones"
        )(keras.layers.Flatten()(i))
        d = keras.Model(i, score)
        augment = DiffAugment(
            "translation", target=0.5, adjust_images=64, adjust_interval=1
        )
        gan = OneStepGAN(g, d, augment=augment, seed=1)
        gan.compile(optimizer=keras.optimizers.SGD(0.0))
    images = np.zeros((16, 4, 4, 1), "float32")
    gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), verbose=0)
    return float(augment.probability.numpy())


if __name__ == "__main__":
    one = probability_after_fit(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two = probability_after_fit(
        tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    )
    print(f"RESULT one={one} two={two}", flush=True)
