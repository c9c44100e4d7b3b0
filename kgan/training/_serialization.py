"""Saving and reloading a kgan trainer: its networks, loss, regularisers,
augmentation and noise in its config, and its compile settings."""

import keras


class TrainerSerialization:
    """`get_config` / `from_config` / `compile_from_config` of a trainer (a
    mixin of `GANTrainer`)."""

    def compile_from_config(self, config):
        """Recompiles a reloaded trainer (Keras skips a custom `compile`)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None:  # create its slots, so they load
            optimizer.build(self.trainable_variables)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.saving.serialize_keras_object(
                    self.generator
                ),
                "discriminator": keras.saving.serialize_keras_object(
                    self.discriminator
                ),
                "loss": keras.saving.serialize_keras_object(
                    self.adversarial_loss
                ),
                "regularizers": [
                    keras.saving.serialize_keras_object(r)
                    for r in self.regularizers
                ],
                "instance_noise": keras.saving.serialize_keras_object(
                    self.instance_noise
                ),
                "augment": keras.saving.serialize_keras_object(self.augment),
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in (
            "generator",
            "discriminator",
            "loss",
            "instance_noise",
            "augment",
        ):
            if key in config:  # O-GAN's config has no `loss`: it is fixed
                config[key] = keras.saving.deserialize_keras_object(
                    config[key], custom_objects=custom_objects
                )
        config["regularizers"] = [
            keras.saving.deserialize_keras_object(r, custom_objects)
            for r in config.get("regularizers", [])
        ]
        return cls(**config)
