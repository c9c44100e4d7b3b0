"""Run as a script under another Keras backend (KERAS_BACKEND=jax ...).

Builds every kgan generator family and trains a small one-step GAN and an
O-GAN ("auto": the fused formulation, kgan's stateless JAX step) for a few
steps. Prints RESULT lines the test reads.
"""

import os
import sys

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

from gan_fixtures import mlp_discriminator, mlp_generator  # noqa: E402

import kgan  # noqa: E402


def main():
    print(f"RESULT backend={keras.backend.backend()}")
    z = np.random.default_rng(0).normal(size=(2, 16)).astype("float32")
    labels = np.array([1, 2], "int32")
    builders = {
        "dcgan": kgan.models.dcgan_generator,
        "resnet": kgan.models.resnet_generator,
        "selfmod": kgan.models.selfmod_generator,
        "stylegan": kgan.models.stylegan_generator,
    }
    for name, build in builders.items():
        kwargs = {"num_classes": 3} if name != "resnet" else {}
        g = build(16, channels=1, z_dim=16, base_channels=8, **kwargs)
        out = g([z, labels] if kwargs else z, training=True)
        out = keras.ops.convert_to_numpy(out)
        assert out.shape == (2, 16, 16, 1) and np.isfinite(out).all(), name
        print(f"RESULT built={name}")

    # BigGAN-style conditioning: z split into 3 chunks (LatentSplit).
    g = kgan.models.resnet_generator(
        16, channels=1, z_dim=18, num_classes=3, base_channels=8
    )
    z18 = np.random.default_rng(3).normal(size=(2, 18)).astype("float32")
    out = keras.ops.convert_to_numpy(g([z18, labels], training=True))
    assert out.shape == (2, 16, 16, 1) and np.isfinite(out).all()
    print("RESULT built=resnet_conditional")

    images = np.random.default_rng(2).uniform(-1, 1, (4, 16, 16, 1))
    discriminators = {
        "dcgan_minibatch_std": kgan.models.dcgan_discriminator(
            16, 1, base_channels=8, minibatch_std=True, spectral_norm=True
        ),
        "resnet_attention": kgan.models.resnet_discriminator(
            16, 1, base_channels=8, attention_resolution=8
        ),
    }
    for name, d in discriminators.items():
        scores = keras.ops.convert_to_numpy(d(images, training=True))
        assert scores.shape == (4, 1) and np.isfinite(scores).all(), name
        print(f"RESULT built={name}")

    data = np.random.default_rng(1).uniform(-0.8, 0.8, (64, 2))
    data = data.astype("float32")
    gan = kgan.training.OneStepGAN(mlp_generator(), mlp_discriminator(),
                                   loss="hinge", seed=0)  # fmt: skip
    gan.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = [keras.ops.convert_to_numpy(v) for v in gan.trainable_variables]
    history = gan.fit(data, batch_size=16, epochs=1, verbose=0)
    after = [keras.ops.convert_to_numpy(v) for v in gan.trainable_variables]
    moved = sum(not np.allclose(a, b) for a, b in zip(before, after))
    finite = all(np.isfinite(v[-1]) for v in history.history.values())
    print(
        f"RESULT onestep formulation={gan.active_formulation} "
        f"moved={moved}/{len(before)} finite={finite} "
        f"keys={','.join(sorted(history.history))}"
    )

    ogan = kgan.training.OGAN(
        mlp_generator(z_dim=4), mlp_discriminator(out_dim=4), seed=0
    )
    ogan.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = ogan.fit(data, batch_size=16, epochs=1, verbose=0)
    print(
        f"RESULT ogan formulation={ogan.active_formulation} "
        f"z_corr={history.history['z_corr'][-1]:.3f}"
    )


if __name__ == "__main__":
    main()
