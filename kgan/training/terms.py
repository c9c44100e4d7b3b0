"""The objective's terms, by who takes them: D's terms (its adversarial
loss and penalties), G's (its adversarial loss and regularisers) and the
shared ones. `Objective` (kgan/training/objective.py) sums them; every
trainer and formulation derives its losses from these groups.

Subclass a trainer and extend a group to add a term:

    class WithFeatureMatching(kgan.training.OneStepGAN):
        def generator_terms(self, out):
            terms = super().generator_terms(out)
            terms["matching"] = ...  # reads out["g_fake_codes"]
            return terms
"""

from keras import ops


class ObjectiveTerms:
    """D's, G's and the shared terms of one step, from its forward pass
    `out` (a mixin of `GANTrainer`)."""

    def discriminator_terms(self, out, labels):
        """D's terms from the forward pass `out`: its adversarial loss and
        its penalties (the fakes carry no gradient). Extend the dict in a
        subclass to add a term; every trainer and formulation sums it."""
        loss = self.adversarial_loss
        sg_fakes = ops.stop_gradient(out["fake_images"])
        real, fake = (
            reduce_scores(out[key]) for key in ("real_codes", "fake_codes")
        )
        return {
            "d_loss": loss.d_loss(real, fake, out["real_images"], sg_fakes),
            "d_penalty": self.penalties(out["real_images"], sg_fakes, labels),
        }

    def generator_terms(self, out):
        """G's terms: `g_loss`, its adversarial loss on its view of the
        fakes (`g_fake_codes`; D's real scores enter as constants, for the
        relativistic losses), and its regularisers."""
        real = ops.stop_gradient(reduce_scores(out["real_codes"]))
        g_fake = reduce_scores(out["g_fake_codes"])
        return {
            "g_loss": self.adversarial_loss.g_loss(real, g_fake),
            "g_penalty": self.generator_penalties(),
        }

    def shared_terms(self, out):
        """Terms both networks take in full (O-GAN's correlation); none for
        a plain GAN. A term reading D's outputs reads `g_fake_codes`, the
        view of the fakes that carries every gradient."""
        return {}

    def score_fn(self, labels):
        """`images -> scores` for the gradient penalties, labels bound.

        With `augment`, the critic is D of the augmented images, a fresh
        draw on each call, and the penalty differentiates through the
        augmentation, as the official DiffAugment code does for R1
        (`grad_x D(T(x))`). Instance noise is not applied here.

        D runs through `stateless_call` on its current weights (gradients
        reach them) and its state updates are dropped: a penalty's pass
        must not move BatchNorm's moving statistics, and on JAX it runs
        inside `jax.grad`, where such an update would leak a tracer.
        """
        d = self.discriminator
        trainable = [v.value for v in d.trainable_variables]
        non_trainable = [v.value for v in d.non_trainable_variables]

        def scores(images):
            images = self.augmented(images)
            inputs = [images, labels] if self.conditional else images
            outputs, _ = d.stateless_call(
                trainable, non_trainable, inputs, training=True
            )
            return reduce_scores(outputs)

        return scores

    def penalties(self, real_images, fake_images, labels):
        """Sum of the discriminator-side regularisers (fakes carry no grad)."""
        total = 0.0
        fake_images = ops.stop_gradient(fake_images)
        for reg in self.regularizers:
            if getattr(reg, "target", "discriminator") == "discriminator":
                total += reg(
                    self.score_fn(labels),
                    real_images,
                    fake_images,
                    seed_generator=self.seed_generator,
                )
        return total

    def generator_penalties(self):
        total = 0.0
        for reg in self.regularizers:
            if getattr(reg, "target", None) == "generator":
                total += reg(generator_kernels(self.generator))
        return total


def reduce_scores(outputs):
    """(batch, k) discriminator outputs -> (batch,) float32 scores."""
    return ops.mean(ops.cast(outputs, "float32"), axis=-1)


def generator_kernels(generator):
    """The generator's conv / dense kernels (for orthogonal regularisation)."""
    return [
        v
        for v in generator.trainable_variables
        if len(v.shape) >= 2 and "embedding" not in v.path
    ]
