"""Input gradients that can be differentiated again, on every Keras backend.

Gradient penalties (WGAN-GP, WGAN-div, R1) need `grad_x D(x)` inside the
discriminator's loss, and the discriminator's optimiser then differentiates
that penalty w.r.t. D's weights: a second-order derivative. Keras 3 has no
backend-neutral gradient op, so this module is the one place in
`kgan.losses` with backend-specific code. The TensorFlow and JAX branches
are tested (second order included); the PyTorch branch is not.
"""

import keras


def input_gradients(fn, x):
    """Returns `grad_x sum(fn(x))`, itself differentiable (second order).

    Each example's score depends only on its own input (no batch-wise layers
    in the critic), so the gradient of the summed scores w.r.t. `x` holds the
    per-example gradients `grad_{x_i} fn(x)_i` stacked along the batch axis.
    The scores are summed in float32, so a float16 critic under mixed
    precision still yields a float32 sum; the gradient has `x`'s dtype.

    Args:
        fn: a callable mapping a batch of inputs to scores, shape `(batch,)`
            (any shape works: the scores are summed).
        x: the inputs, a tensor.

    Returns:
        A tensor shaped like `x`; zeros where `fn` does not depend on `x`.

    Backends:
        - TensorFlow: a `tf.GradientTape` nested in the caller's tape, so the
          caller's tape records this gradient computation.
        - JAX: `jax.grad`. `fn` must be pure inside the trace (call the
          critic through `stateless_call`, as JAX trainers do anyway).
        - PyTorch: `torch.autograd.grad(..., create_graph=True)`.
        Other backends raise `NotImplementedError`.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_gradients(fn, x)
    if backend == "jax":
        return _jax_gradients(fn, x)
    if backend == "torch":
        return _torch_gradients(fn, x)
    raise NotImplementedError(
        "`input_gradients` supports the tensorflow, jax and torch backends. "
        f"Received: backend={backend!r}"
    )


def _summed_scores(fn, x):
    return keras.ops.sum(keras.ops.cast(fn(x), "float32"))


def _tensorflow_gradients(fn, x):
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = _summed_scores(fn, x)
    grads = tape.gradient(total, x)
    return tf.zeros_like(x) if grads is None else grads


def _jax_gradients(fn, x):
    import jax

    return jax.grad(lambda inputs: _summed_scores(fn, inputs))(x)


def _torch_gradients(fn, x):
    import torch

    x = keras.ops.convert_to_tensor(x)
    if not x.requires_grad:
        # Nothing upstream needs this gradient, so a fresh leaf is enough.
        x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        total = _summed_scores(fn, x)
        (grads,) = torch.autograd.grad(
            total, x, create_graph=True, allow_unused=True
        )
    return torch.zeros_like(x) if grads is None else grads
