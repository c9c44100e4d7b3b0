"""Hand-written reference losses and gradients for the trainer tests.

Everything here is written from the papers and posts (GAN losses, GAN-QP,
O-GAN, the one-step post) and the docstrings of
`kgan/losses/adversarial.py` and `kgan/losses/regularizers.py`, without
calling any kgan code, so a test can compare a trainer's update with an
independent computation of the same formulas.

Sign conventions follow kgan: D scores real images HIGH for hinge, ns,
lsgan and wgan; GAN-QP keeps Su's convention (real LOW). Scores are
`(batch,)` tensors; every loss is a batch mean.

`gradients(forward, variables, wrt)` differentiates losses computed by
ordinary, stateful Keras calls on both TensorFlow and JAX, with the state
semantics of each backend's Keras trainer (see its docstring).
"""

import keras
import numpy as np
from keras import ops

# -- adversarial losses: d(s_r, s_f, x_r, x_f), g(s_f) ----------------------


def hinge_d(s_r, s_f, x_r=None, x_f=None):
    """`mean(relu(1 - s_r)) + mean(relu(1 + s_f))`."""
    return ops.mean(ops.relu(1.0 - s_r)) + ops.mean(ops.relu(1.0 + s_f))


def hinge_g(s_f):
    """`-mean(s_f)`."""
    return -ops.mean(s_f)


def ns_d(s_r, s_f, x_r=None, x_f=None):
    """`mean(softplus(-s_r)) + mean(softplus(s_f))` (sigmoid cross-entropy)."""
    return ops.mean(ops.softplus(-s_r)) + ops.mean(ops.softplus(s_f))


def ns_g(s_f):
    """`mean(softplus(-s_f))`, the non-saturating generator loss."""
    return ops.mean(ops.softplus(-s_f))


def wgan_d(s_r, s_f, x_r=None, x_f=None):
    """`mean(s_f) - mean(s_r)`."""
    return ops.mean(s_f) - ops.mean(s_r)


def wgan_g(s_f):
    """`-mean(s_f)`."""
    return -ops.mean(s_f)


def lsgan_d(s_r, s_f, x_r=None, x_f=None):
    """`0.5 mean((s_r - 1)^2) + 0.5 mean(s_f^2)`."""
    return 0.5 * ops.mean(ops.square(s_r - 1.0)) + 0.5 * ops.mean(
        ops.square(s_f)
    )


def lsgan_g(s_f):
    """`0.5 mean((s_f - 1)^2)`."""
    return 0.5 * ops.mean(ops.square(s_f - 1.0))


def pixel_mse(x_r, x_f):
    """`mean((x_r - x_f)^2)` over every axis but the batch axis."""
    axes = tuple(range(1, len(x_r.shape)))
    return ops.mean(ops.square(x_r - x_f), axis=axes)


def gan_qp_d(s_r, s_f, x_r, x_f, lambda_=2.0, epsilon=1e-8):
    """`mean(t + t^2 / (2 lambda (d + eps)))`, `t = s_r - s_f`, real LOW.

    `d = pixel_mse(x_r, x_f)`, real and fake paired per sample; lambda 2
    gives O-GAN's `0.25` (kgan adds `eps = 1e-8` to `d`).
    """
    t = s_r - s_f
    dist = pixel_mse(x_r, x_f) + epsilon
    return ops.mean(t + ops.square(t) / (2.0 * lambda_ * dist))


def gan_qp_g(s_f):
    """`mean(s_f)`: G lowers its score, as D scores real LOW."""
    return ops.mean(s_f)


LOSSES = {
    "hinge": (hinge_d, hinge_g),
    "ns": (ns_d, ns_g),
    "wgan": (wgan_d, wgan_g),
    "lsgan": (lsgan_d, lsgan_g),
    "gan-qp": (gan_qp_d, gan_qp_g),
}


def scores(outputs):
    """Discriminator outputs `(batch, k)` -> float32 scores `(batch,)`."""
    return ops.mean(ops.cast(outputs, "float32"), axis=-1)


# -- regularisers ------------------------------------------------------------


def input_gradients(score_fn, x):
    """`grad_x sum(score_fn(x))`, differentiable again (second order)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.grad(lambda t: ops.sum(score_fn(t)))(x)
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = ops.sum(score_fn(x))
    return tape.gradient(total, x)


def r1_penalty(score_fn, real_images, gamma):
    """R1: `gamma / 2 * mean_i ||grad_x D(x_i)||^2` on real images."""
    grads = input_gradients(score_fn, ops.stop_gradient(real_images))
    axes = tuple(range(1, len(grads.shape)))
    return 0.5 * gamma * ops.mean(ops.sum(ops.square(grads), axis=axes))


def regularised_kernels(model):
    """The kernels orthogonal regularisation sees: trainable, ndim >= 2, not
    an embedding table."""
    return [
        v
        for v in model.trainable_variables
        if len(v.shape) >= 2 and "embedding" not in v.path
    ]


def orthogonal_penalty(kernels, beta):
    """BigGAN: `beta * sum_W ||W^T W * (1 - I)||_F^2`, each kernel reshaped
    to `(-1, columns)` (only the off-diagonal inner products count)."""
    total = 0.0
    for kernel in kernels:
        columns = kernel.shape[-1]
        w = ops.reshape(ops.convert_to_tensor(kernel), (-1, columns))
        gram = ops.matmul(ops.transpose(w), w)
        off_diagonal = gram * (1.0 - ops.eye(columns))
        total = total + ops.sum(ops.square(off_diagonal))
    return beta * total


# -- O-GAN (Su's o_gan_celeba.py) --------------------------------------------


def l2_normalize(x, axis=-1):
    """Keras 2's `K.l2_normalize`: `x / sqrt(max(sum(x^2), 1e-12))`."""
    squares = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x / ops.sqrt(ops.maximum(squares, 1e-12))


def correlation(x, y):
    """Su's `correlation`: per-sample Pearson correlation across axis 1."""
    x = x - ops.mean(x, axis=1, keepdims=True)
    y = y - ops.mean(y, axis=1, keepdims=True)
    return ops.sum(l2_normalize(x, 1) * l2_normalize(y, 1), axis=1)


def ogan_loss(
    z,
    x_real,
    x_fake_ng,
    e_real,
    e_fake_ng,
    e_fake,
    corr_weight,
    correlation_fn=correlation,
):
    """O-GAN's single loss as `o_gan_celeba.py` writes it (arXiv 1903.01931).

    `e_*` are the codes `(batch, z_dim)` of D on the real batch, on the
    stop-gradient fakes and on the fakes; `avg` is over the code axis.
    `correlation_fn` lets a test try a variant of Su's `correlation`.
    """
    t1 = ops.mean(e_real, 1) - ops.mean(e_fake_ng, 1)
    t2 = ops.mean(e_fake, 1) - ops.mean(e_fake_ng, 1)
    z_corr = correlation_fn(z, e_fake)
    qp = 0.25 * ops.square(t1) / pixel_mse(x_real, x_fake_ng)
    return ops.mean(t1 + t2 - corr_weight * z_corr) + ops.mean(qp)


# -- gradients on either backend ---------------------------------------------


def snapshot(variables):
    """The variables' values as NumPy arrays."""
    return [ops.convert_to_numpy(v) for v in variables]


def restore(variables, values):
    for v, value in zip(variables, values):
        v.assign(value)


def gradients(forward, variables, wrt):
    """Gradients of the losses `forward()` computes, each w.r.t. its own
    variables, with each backend's Keras-trainer state semantics.

    Args:
        forward: a closure that calls the models statefully (`model(x,
            training=True)`) and returns a dict `{name: scalar loss}`.
        variables: every variable the models hold (trainable or not).
        wrt: `{name: list of variables}`, the variables to differentiate
            the loss `name` with respect to.

    Returns:
        `(grads, start)`: `grads[name]` is a list of NumPy arrays (zeros
        where a variable does not reach the loss) and `start` the values,
        one per entry of `variables`, that an optimizer step subtracts
        `lr * grad` from. On TensorFlow the calls run on the variables under
        one persistent tape and `start` is their state after the forward
        pass (spectral normalisation writes its normalised kernel into the
        kernel variable on every training call; a tape sees each read of
        the variable as a leaf). On JAX the forward pass runs in one
        `StatelessScope`, so later calls read earlier calls' assignments
        and gradients flow through them, and `start` is the values before
        the pass: Keras' JAX trainer keeps only the non-trainable state
        of its stateless forward pass. The variables are left as they were.
    """
    before = snapshot(variables)
    if keras.backend.backend() == "jax":
        grads = _jax_gradients(forward, variables, wrt)
        return grads, before
    import tensorflow as tf

    with tf.GradientTape(persistent=True) as tape:
        losses = forward()
    grads = {}
    for name, targets in wrt.items():
        found = tape.gradient(losses[name], targets)
        grads[name] = [
            np.zeros(v.shape, "float32")
            if g is None
            else tf.convert_to_tensor(g).numpy()  # embeddings: sparse
            for v, g in zip(targets, found)
        ]
    del tape
    start = snapshot(variables)
    restore(variables, before)
    return grads, start


def _jax_gradients(forward, variables, wrt):
    import jax

    values = [v.value for v in variables]
    index = {id(v): i for i, v in enumerate(variables)}

    def loss_of(name, targets):
        positions = [index[id(v)] for v in targets]

        def fn(target_values):
            current = list(values)
            for i, value in zip(positions, target_values):
                current[i] = value
            mapping = list(zip(variables, current))
            with keras.StatelessScope(state_mapping=mapping):
                return forward()[name]

        return fn, [values[i] for i in positions]

    grads = {}
    for name, targets in wrt.items():
        fn, start = loss_of(name, targets)
        grads[name] = [np.asarray(g) for g in jax.grad(fn)(start)]
    return grads
