"""Saves small models of every kgan layer family, with their outputs.

Run once per release with that release's code:

    python tools/save_release_models.py tests/data/saved_models/<release>

tests/test_saved_models.py then loads every release's files with today's
code (Keras' safe mode) and checks the outputs, so a refactor of a layer
that changes its weights, config or arithmetic fails there, not in a
user's run folder.
"""

import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

import kgan.models as models  # noqa: E402

Z_DIM = 15  # resnet's hierarchical latent splits z in 3 at 16 px


def release_models():
    """The models saved: name -> (model, needs labels)."""
    return {
        "dcgan_cbn": (
            models.dcgan_generator(
                16, 1, Z_DIM, num_classes=3, base_channels=8, max_channels=16
            ),
            True,
        ),
        "selfmod": (
            models.selfmod_generator(
                16, 3, Z_DIM, base_channels=8, max_channels=16
            ),
            False,
        ),
        "stylegan_equalized": (
            models.stylegan_generator(
                16,
                3,
                Z_DIM,
                mapping_layers=2,
                base_channels=8,
                max_channels=16,
                noise_injection=False,
                equalized_lr=True,
            ),
            False,
        ),
        "progressive_equalized": (
            models.progressive_dcgan_generator(
                16,
                3,
                Z_DIM,
                base_channels=8,
                max_channels=16,
                equalized_lr=True,
            ),
            False,
        ),
        "resnet_attention": (
            models.resnet_generator(
                16,
                3,
                Z_DIM,
                num_classes=3,
                base_channels=8,
                max_channels=16,
                attention_resolution=8,
                embedding_dim=8,
            ),
            True,
        ),
    }


def main(folder):
    os.makedirs(folder, exist_ok=True)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, Z_DIM)).astype("float32")
    labels = np.array([0, 1, 2, 1], dtype="int32")
    arrays = {"z": z, "labels": labels}
    for name, (model, conditional) in release_models().items():
        # A few training calls move BN's moving statistics off their init.
        inputs = [z, labels] if conditional else z
        for _ in range(2):
            model(inputs, training=True)
        model.save(os.path.join(folder, f"{name}.keras"))
        arrays[name] = keras.ops.convert_to_numpy(model(inputs, training=False))
        print(f"saved {name}: {model.count_params()} parameters")
    np.savez(os.path.join(folder, "outputs.npz"), **arrays)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/save_release_models.py FOLDER")
    main(sys.argv[1])
