"""O-GAN: the discriminator doubles as an encoder (Su 2019,
arXiv 1903.01931).

Su's one-step O-GAN objective (o_gan_celeba.py), with `e` the discriminator's
z_dim-vector output and `avg` its mean over the dimensions:

    t1   = avg e(x_r) - avg e(sg G(z))                      # GAN-QP, D only
    t2   = avg e(G(z)) - avg e(sg G(z))                     # zero: G's grad
    qp   = 0.25 * t1^2 / mean((x_r - sg G(z))^2)
    corr = pearson(z, e(G(z)))                              # both networks
    L    = mean(t1 + t2 - corr_weight * corr) + mean(qp)

`t1 + qp` is `kgan.losses`' "gan-qp" pair (lambda = 2), `t2` the one-step
bracket, and the correlation a shared term of the `Objective`
(`shared_terms`): both networks take its full gradient.
"""

import keras
import numpy as np
from keras import ops

from kgan._checks import non_negative_number
from kgan.distribution import predict
from kgan.losses import get_loss
from kgan.losses.ogan import pearson_correlation, standardize_codes
from kgan.training.one_step import OneStepGAN


@keras.saving.register_keras_serializable(package="kgan")
class OGAN(OneStepGAN):
    """One-step O-GAN trainer; afterwards `encode` and `reconstruct` work.

    Args:
        generator: an unconditional generator `z -> images`.
        discriminator: a model `images -> (batch, z_dim)` codes, e.g.
            `dcgan_discriminator(..., output_dim=z_dim)`.
        corr_weight: weight `w` of the correlation term (0.5 in Su's 128 px
            run, 1.0 in the 256 px one).
        qp_lambda: GAN-QP's lambda; `1 / (2 * lambda) = 0.25` in Su's code.
        formulation: `"auto"` (fused on TensorFlow, else literal),
            `"fused"` or `"literal"`: the same update.
        seed, regularizers, instance_noise, augment: see `OneStepGAN`.

    Reference:
        Su Jianlin, "O-GAN", https://arxiv.org/abs/1903.01931,
        https://kexue.fm/archives/6409; code https://github.com/bojone/o-gan.
    """

    def __init__(
        self,
        generator,
        discriminator,
        corr_weight=0.5,
        qp_lambda=2.0,
        formulation="auto",
        **kwargs,
    ):
        for fixed in ("loss", "g_weight"):
            if fixed in kwargs:
                raise ValueError(
                    f"OGAN trains Su's O-GAN objective, whose `{fixed}` is "
                    "fixed (GAN-QP, generator weight 1): drop "
                    f"`{fixed}=`; set `qp_lambda` / `corr_weight`, or use "
                    "OneStepGAN for another loss."
                )
        super().__init__(
            generator,
            discriminator,
            loss=get_loss("gan-qp", lambda_=qp_lambda),
            formulation=formulation,
            **kwargs,
        )
        if self.conditional:
            raise ValueError(
                "O-GAN takes an unconditional generator and discriminator "
                "(one input each): drop the labels."
            )
        out_dim = int(discriminator.outputs[0].shape[-1])
        if out_dim != self.z_dim:
            raise ValueError(
                "O-GAN's discriminator is an encoder: it must output "
                f"(batch, z_dim={self.z_dim}) codes, e.g. dcgan_discriminator"
                f"(..., output_dim={self.z_dim}). Received: output_dim="
                f"{out_dim}."
            )
        self.corr_weight = non_negative_number("corr_weight", corr_weight)
        self.qp_lambda = float(qp_lambda)  # checked by get_loss
        self.z_corr_tracker = keras.metrics.Mean(name="z_corr")

    def shared_terms(self, out):
        """`{"corr": -corr_weight * mean(pearson(z, e(G(z))))}`: both
        networks take its full gradient."""
        corr = pearson_correlation(out["z"], out["g_fake_codes"])
        return {"corr": -self.corr_weight * ops.mean(corr)}

    def track(self, objective, out):
        super().track(objective, out)
        corr = pearson_correlation(out["z"], out["g_fake_codes"])
        self.z_corr_tracker.update_state(ops.mean(corr))

    @property
    def metrics(self):
        return super().metrics + [self.z_corr_tracker]

    def encode(self, images, batch_size=64):
        """The codes `e(x)`, shape (n, z_dim)."""
        return predict(self.discriminator, np.asarray(images), batch_size)

    def reconstruct(self, images, scale=0.9, batch_size=64):
        """`G(scale * standardise(e(x)))`: O-GAN's reconstructions."""
        z = standardize_codes(self.encode(images, batch_size), scale=scale)
        return predict(self.generator, ops.convert_to_numpy(z), batch_size)

    def get_config(self):
        config = super().get_config()
        for fixed in ("loss", "g_weight"):
            config.pop(fixed)
        config.update(
            {"corr_weight": self.corr_weight, "qp_lambda": self.qp_lambda}
        )
        return config
