"""O-GAN's extra loss term: the correlation between z and the code e(G(z)).

Su, "O-GAN: Extremely Concise Approach for Auto-Encoding Generative
Adversarial Networks", https://arxiv.org/abs/1903.01931,
https://kexue.fm/archives/6409. The discriminator outputs a z_dim vector
`e(x)`; its mean over the dimensions is the GAN score, and maximising the
Pearson correlation of `z` with `e(G(z))` makes it an encoder.
"""

from keras import ops


def pearson_correlation(a, b, epsilon=1e-12):
    """Per-sample Pearson correlation across the last axis: shape (batch,).

    `corr = sum(a' * b')` with `a' = l2_normalize(a - mean a)` and likewise
    `b'`, each over the feature axis of one sample, exactly as Su's O-GAN
    code writes it: Keras' `l2_normalize` divides by
    `sqrt(max(sum x^2, epsilon))`, so the epsilon only guards a zero
    vector. (An epsilon added inside the root instead is not negligible
    when D's codes are ~1e-4, as they are at initialisation.)
    """
    a = ops.cast(a, "float32")
    b = ops.cast(b, "float32")
    a = _l2_normalize(a - ops.mean(a, axis=-1, keepdims=True), epsilon)
    b = _l2_normalize(b - ops.mean(b, axis=-1, keepdims=True), epsilon)
    return ops.sum(a * b, axis=-1)


def _l2_normalize(x, epsilon):
    squares = ops.sum(x * x, axis=-1, keepdims=True)
    return x / ops.sqrt(ops.maximum(squares, epsilon))


def standardize_codes(codes, scale=0.9, epsilon=1e-8):
    """O-GAN's reconstruction latent: `scale * (e - mean e) / std e` per
    sample, across the code's dimensions (Su's code uses scale 0.9)."""
    codes = ops.cast(codes, "float32")
    mean = ops.mean(codes, axis=-1, keepdims=True)
    std = ops.std(codes, axis=-1, keepdims=True)
    return scale * (codes - mean) / (std + epsilon)
