"""Regularisers that keep a GAN's discriminator (or generator) in check.

The gradient penalties are called as
`penalty(score_fn, real_images, fake_images, seed_generator=None)`, where
`score_fn(images) -> (batch,)` is a closure the trainer builds around D (it
hides the labels of a conditional D). They return a float32 scalar with their
strength already applied; `weight` repeats that strength for logs, and
`target` says whose loss the term joins ("discriminator" or "generator").

The penalties see the images as constants (`stop_gradient`): they train D only,
even when a one-step trainer passes fakes that are still connected to G.
Each example's score must depend on that example alone, so use a critic
without batch normalisation in training mode (as WGAN-GP advises).

Tested on the TensorFlow backend; `input_gradients` also on JAX.
"""

import keras
from keras import ops

from kgan._checks import non_negative_number
from kgan.losses.autodiff import input_gradients

# Keeps sqrt differentiable where a gradient vanishes (dead ReLU regions).
_EPSILON = 1e-12


def _serializable(cls):
    return keras.saving.register_keras_serializable(package="kgan")(cls)


def _constants(*images):
    return [ops.stop_gradient(ops.cast(x, "float32")) for x in images]


def _squared_norms(grads):
    """`||g_i||^2` per example, over every axis but the batch axis."""
    axes = tuple(range(1, len(grads.shape)))
    return ops.sum(ops.square(ops.cast(grads, "float32")), axis=axes)


class _Regularizer:
    target = "discriminator"
    # A penalty on D's input gradient needs each example's score to depend
    # on that example alone: no BatchNorm in D (WGAN-GP paper, section 4).
    penalises_input_gradient = False

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@_serializable
class GradientPenalty(_Regularizer):
    """WGAN-GP: pulls the critic's gradient norm towards `center`.

    `weight * mean((||grad_x D(x_hat)||_2 - center)^2)` at interpolates
    `x_hat = a x_r + (1 - a) x_f`, with one `a ~ U(0, 1)` per example (a
    keras-io example drew `a` from a normal: a bug). `center=0` gives the
    zero-centred GP, which does not force every gradient norm to one.

    Args:
        weight: the penalty strength (lambda in the paper), default 10.
        center: the target gradient norm, 1 for WGAN-GP, 0 for 0-GP.

    Call arguments:
        score_fn: `fn(images) -> (batch,)` scores of the critic.
        real_images, fake_images: batches of the same shape.
        seed_generator: a `keras.random.SeedGenerator` for the mixing
            weights; None uses Keras' global generator (not in JAX traces).

    Example:

    >>> penalty = GradientPenalty(weight=10.0)
    >>> loss = penalty(critic_scores, real_images, fake_images, seed_gen)

    Reference:
        Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028
    """

    penalises_input_gradient = True

    def __init__(self, weight=10.0, center=1.0):
        self.weight = non_negative_number("weight", weight)
        self.center = non_negative_number("center", center)

    def __call__(self, score_fn, real_images, fake_images, seed_generator=None):
        real, fake = _constants(real_images, fake_images)
        shape = (ops.shape(real)[0],) + (1,) * (len(real.shape) - 1)
        alpha = keras.random.uniform(
            shape, dtype="float32", seed=seed_generator
        )
        mixed = alpha * real + (1.0 - alpha) * fake
        norms = ops.sqrt(
            _squared_norms(input_gradients(score_fn, mixed)) + _EPSILON
        )
        return self.weight * ops.mean(ops.square(norms - self.center))

    def get_config(self):
        return {"weight": self.weight, "center": self.center}


@_serializable
class WGANDivPenalty(_Regularizer):
    """WGAN-div: `k * mean(||grad||^p)` on real plus the same on fake images.

    As Wu et al. (arXiv 1712.01026) write it: the two batch means are
    summed, each at the images themselves (no interpolation), with the
    paper's `k = 2`, `p = 6`.
    `weight` is `k`.

    Args:
        k: the strength, default 2.
        p: the power of the gradient norm, default 6.

    Call arguments:
        score_fn: `fn(images) -> (batch,)` scores of the critic.
        real_images, fake_images: batches of the same shape.
        seed_generator: a `keras.random.SeedGenerator` (unused).

    Example:

    >>> penalty = WGANDivPenalty()
    >>> loss = penalty(critic_scores, real_images, fake_images)

    Reference:
        Wu et al. 2018, https://arxiv.org/abs/1712.01026
    """

    penalises_input_gradient = True

    def __init__(self, k=2.0, p=6.0):
        self.k = non_negative_number("k", k)
        self.p = non_negative_number("p", p)
        if self.p < 1:
            raise ValueError(f"`p` must be >= 1. Received: p={p}")

    @property
    def weight(self):
        return self.k

    def __call__(self, score_fn, real_images, fake_images, seed_generator=None):
        total = 0.0
        for images in _constants(real_images, fake_images):
            squared = _squared_norms(input_gradients(score_fn, images))
            total += ops.mean(ops.power(squared + _EPSILON, self.p / 2.0))
        return self.k * total

    def get_config(self):
        return {"k": self.k, "p": self.p}


@_serializable
class R1Penalty(_Regularizer):
    """R1: `gamma / 2 * mean(||grad_x D(x_r)||^2)` on real images only.

    Zero-centred, so D is not pushed off the data where it is already flat;
    `fake_images` and `seed_generator` are accepted and unused. `weight` is
    `gamma`.

    Args:
        gamma: the strength, default 10.

    Call arguments:
        score_fn: `fn(images) -> (batch,)` scores of the critic.
        real_images, fake_images: batches of the same shape.
        seed_generator: a `keras.random.SeedGenerator` (unused).

    Example:

    >>> penalty = R1Penalty(gamma=10.0)
    >>> loss = penalty(critic_scores, real_images, fake_images)

    Reference:
        Mescheder et al. 2018, https://arxiv.org/abs/1801.04406
    """

    penalises_input_gradient = True

    def __init__(self, gamma=10.0):
        self.gamma = non_negative_number("gamma", gamma)

    @property
    def weight(self):
        return self.gamma

    def __call__(self, score_fn, real_images, fake_images, seed_generator=None):
        (real,) = _constants(real_images)
        squared = _squared_norms(input_gradients(score_fn, real))
        return 0.5 * self.gamma * ops.mean(squared)

    def get_config(self):
        return {"gamma": self.gamma}


@_serializable
class OrthogonalRegularization(_Regularizer):
    """BigGAN's orthogonal regularisation of the generator's kernels.

    `beta * sum_W ||W^T W * (1 - I)||_F^2`, with each kernel reshaped to
    `(-1, kernel.shape[-1])`: only the off-diagonal inner products of its
    filters are pushed to zero, not their norms. Called differently from the
    penalties: `regularizer(weights)` on a list of kernels (the trainer
    passes G's kernel variables). Tensors of rank < 2 (biases, BN scales) are
    skipped, so `model.trainable_weights` can be passed as is. A
    `Conv2DTranspose` kernel is `(h, w, out, in)`: its columns are the input
    channels' filters.

    Args:
        beta: the strength, default 1e-4 (BigGAN's value).

    Call arguments:
        weights: a list of kernels (variables or tensors).

    Example:

    >>> ortho = OrthogonalRegularization(beta=1e-4)
    >>> loss = ortho(generator.trainable_weights)

    Reference:
        Brock et al. 2018, https://arxiv.org/abs/1809.11096
    """

    target = "generator"

    def __init__(self, beta=1e-4):
        self.beta = non_negative_number("beta", beta)

    @property
    def weight(self):
        return self.beta

    def __call__(self, weights):
        total = ops.zeros((), "float32")
        for kernel in weights:
            if len(kernel.shape) < 2:
                continue
            columns = kernel.shape[-1]
            w = ops.reshape(ops.cast(kernel, "float32"), (-1, columns))
            off_diagonal = ops.matmul(ops.transpose(w), w) * (
                1.0 - ops.eye(columns, dtype="float32")
            )
            total = total + ops.sum(ops.square(off_diagonal))
        return self.beta * total

    def get_config(self):
        return {"beta": self.beta}


@_serializable
class WeightClip(keras.constraints.Constraint):
    """Clips every weight into `[-clip_value, clip_value]` (original WGAN).

    Args:
        clip_value: the bound `c`, default 0.01.

    Reference:
        Arjovsky et al. 2017, https://arxiv.org/abs/1701.07875
    """

    def __init__(self, clip_value=0.01):
        self.clip_value = non_negative_number("clip_value", clip_value)
        if self.clip_value == 0:
            raise ValueError(
                f"`clip_value` must be > 0. Received: clip_value={clip_value}"
            )

    def __call__(self, w):
        return ops.clip(w, -self.clip_value, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value}


def apply_weight_clipping(model, clip_value=0.01):
    """Sets a `WeightClip` constraint on every trainable variable of `model`.

    Keras 3 optimizers apply `variable.constraint` right after each update,
    so every later step of any optimizer keeps the weights in `[-c, c]`. The
    current weights are clipped at once too. Any constraint the variables
    had is replaced. The constraint lives on the variables, not in the layer
    configs: call this again after loading a saved model.

    Args:
        model: a Keras model or layer (the critic).
        clip_value: the bound `c`, default 0.01.

    Returns:
        `model`, for chaining.
    """
    constraint = WeightClip(clip_value)
    for variable in model.trainable_variables:
        variable.constraint = constraint
        variable.assign(constraint(variable))
    return model
