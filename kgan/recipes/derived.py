"""What a `RunConfig`'s None and combined settings stand for: the loss a
run trains with, whether D keeps BatchNorm, the weight bound, the stages
of a progressive run (a mixin of `RunConfig`)."""

import math


class DerivedSettings:
    """Values every part of a run reads the same way, derived from the
    settings (a mixin of `RunConfig`)."""

    @property
    def adversarial_loss(self):
        """The loss's name: `loss`, else GAN-QP (O-GAN) or hinge."""
        if self.loss is not None:
            return self.loss
        return "gan-qp" if self.ogan else "hinge"

    @property
    def gradient_penalised(self):
        """True when the loss penalises D's input gradient: the critic
        then drops BatchNorm (the loss registry says which do)."""
        from kgan.losses import penalises_input_gradient

        return not self.ogan and penalises_input_gradient(self.adversarial_loss)

    @property
    def critic_clip(self):
        """D's weight bound: `weight_clip`, else the WGAN paper's 0.01
        for plain "wgan" (an otherwise unconstrained critic), else 0."""
        if self.weight_clip is not None:
            return self.weight_clip
        return 0.01 if self.adversarial_loss == "wgan" else 0.0

    @property
    def discriminator_spectral_norm(self):
        """`spectral_norm`, else on for "resnet" (SNGAN's critic) and off
        for the DCGAN discriminator."""
        if self.spectral_norm is not None:
            return self.spectral_norm
        return self.arch == "resnet"

    @property
    def resnet_generator(self):
        return self.arch == "resnet" or (
            self.arch == "selfmod" and self.body == "resnet"
        )

    @property
    def progressive_schedule(self):
        """`(stage_steps, fade_steps)`: every stage from 4x4 up trains an
        equal share of `steps`, the first half of it fading the stage in."""
        stages = int(math.log2(self.image_size // 4)) + 1
        stage_steps = max(1, math.ceil(self.steps / stages))
        return stage_steps, stage_steps // 2

    @property
    def epochs(self):
        """Keras epochs of `checkpoint_every` steps covering `steps`."""
        return math.ceil(self.steps / self.checkpoint_every)
