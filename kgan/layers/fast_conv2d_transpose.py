"""Keras' `Conv2DTranspose` with a kernel gradient XLA's CPU backend runs fast.

A transposed convolution `y = T_k(x)` is linear in `x`: it is the adjoint
of the strided convolution `C_k` that maps `y`'s shape back to `x`'s, so
`<T_k(x), g> = <x, C_k(g)>` for every `g`. Its gradients follow:

    d/dx <T_k(x), g> = C_k(g)                  (what autodiff computes too)
    d/dk <T_k(x), g> = d/dk <x, C_k(g)>        (a strided convolution's
                                                kernel gradient)

Autodiff of `T_k` computes the kernel gradient as an input-dilated
convolution with the output-sized cotangent as its window, which XLA's CPU
backend runs ~25-40x slower than the strided convolution's kernel gradient
(the one every discriminator takes): DCGAN's generator gradient on JAX was
that convolution (docs/PERFORMANCE.md). On JAX, `conv_transpose` below
differentiates through the adjoint instead, using only JAX's own autodiff
of `keras.ops.conv_transpose` (no padding arithmetic of its own), so both
gradients are the same numbers up to float rounding. On other backends
the layer is Keras' `Conv2DTranspose.call` unchanged.
"""

import functools

import keras


def conv_transpose(inputs, kernel, **options):
    """`keras.ops.conv_transpose(inputs, kernel, **options)` on JAX, the same
    values, with its kernel gradient taken through the adjoint convolution.

    `options` are `keras.ops.conv_transpose`'s keyword arguments (strides,
    padding, output_padding, data_format, dilation_rate).
    """
    frozen = tuple(sorted((key, _hashable(value)) for key, value in options.items()))
    convert = keras.ops.convert_to_tensor  # a Variable reads its (cast) value
    return _jax_conv_transpose(frozen)(convert(inputs), convert(kernel))


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


@functools.lru_cache(maxsize=None)
def _jax_conv_transpose(frozen_options):
    """A `jax.custom_vjp` transposed convolution for one set of options."""
    import jax

    options = dict(frozen_options)

    def forward(x, kernel):
        return keras.ops.conv_transpose(x, kernel, **options)

    @jax.custom_vjp
    def conv(x, kernel):
        return forward(x, kernel)

    def conv_forward(x, kernel):
        return forward(x, kernel), (x, kernel)

    def conv_backward(residuals, cotangent):
        x, kernel = residuals

        def adjoint(k):
            # C_k(g): the pullback of the map x -> T_k(x), linear in x.
            _, pullback = jax.vjp(lambda x_: forward(x_, k), x)
            return pullback(cotangent)[0]

        x_gradient, kernel_pullback = jax.vjp(adjoint, kernel)
        (kernel_gradient,) = kernel_pullback(x)
        return x_gradient, kernel_gradient

    conv.defvjp(conv_forward, conv_backward)
    return conv


@keras.saving.register_keras_serializable(package="kgan")
class FastConv2DTranspose(keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` whose kernel gradient is fast on JAX.

    The same layer as Keras' (same arguments, config, weights and outputs);
    only how JAX differentiates it changes. A transposed convolution is the
    adjoint of a strided convolution `C_k`, so its kernel gradient is
    `d/dk <x, C_k(g)>`, the strided convolution's own kernel gradient,
    which XLA's CPU backend runs ~25-40x faster than the input-dilated
    convolution autodiff would use (`benchmarks/conv_transpose.py`,
    docs/PERFORMANCE.md). The values agree with autodiff's to float
    rounding, to any order of differentiation in reverse mode (the backward
    pass is itself JAX code). Forward-mode autodiff (`jax.jvp`) of the layer
    is not available on JAX (a `jax.custom_vjp` has none); TensorFlow runs
    Keras' own op. kgan's DCGAN and SELF-MOD generators use this layer.

    Args:
        filters: as `keras.layers.Conv2DTranspose`, like every other
            argument (kernel_size, strides, padding, output_padding,
            data_format, dilation_rate, activation, use_bias, initializers,
            regularizers, constraints and base layer arguments).

    Call arguments:
        inputs: a 4D tensor, `(batch, H, W, C)` with channels last.

    Example:

    >>> layer = FastConv2DTranspose(8, 4, strides=2, padding="same")
    >>> tuple(layer(np.zeros((2, 4, 4, 16), "float32")).shape)
    (2, 8, 8, 8)

    Reference:

    - [Dumoulin and Visin, 2016, A guide to convolution arithmetic for deep
      learning](https://arxiv.org/abs/1603.07285), section 4: a transposed
      convolution is the transpose of a convolution's matrix.
    - [Radford et al., 2015, DCGAN](https://arxiv.org/abs/1511.06434) and
      Su Jianlin, [From DCGAN to SELF-MOD](https://kexue.fm/archives/6549):
      the generator these layers build.
    """

    def call(self, inputs):
        if keras.backend.backend() != "jax":
            return super().call(inputs)  # Keras' own layer, unchanged
        outputs = conv_transpose(
            inputs,
            self.kernel,
            strides=tuple(self.strides),
            padding=self.padding,
            output_padding=self.output_padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
        )
        if self.use_bias:
            if self.data_format == "channels_last":
                shape = (1, 1, 1, self.filters)
            else:
                shape = (1, self.filters, 1, 1)
            outputs = keras.ops.add(outputs, keras.ops.reshape(self.bias, shape))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
