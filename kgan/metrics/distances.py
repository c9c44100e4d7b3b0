"""Distances between two sets of features: FID and KID.

Both compare the feature vectors of real and generated images under some
feature extractor (see `kgan.metrics.features`). They work in float64 NumPy
so that the matrix square root of FID stays accurate.

Reference:
    - Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge
      to a Local Nash Equilibrium", https://arxiv.org/abs/1706.08500
    - Binkowski et al., "Demystifying MMD GANs",
      https://arxiv.org/abs/1801.01401
"""

import numpy as np

from kgan._checks import integer, positive_int


def _features_2d(name, features):
    array = np.asarray(features, dtype="float64")
    if array.ndim != 2 or array.shape[0] < 2 or array.shape[1] < 1:
        raise ValueError(
            f"`{name}` must be an array of shape (n, d) with n >= 2. "
            f"Received: {name} of shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(
            f"`{name}` holds NaN or infinite values. Received: {name} with "
            f"{int((~np.isfinite(array)).sum())} non-finite entries"
        )
    return array


def feature_moments(features):
    """Mean and unbiased covariance `(mu, sigma)` of `(n, d)` features."""
    features = _features_2d("features", features)
    return features.mean(axis=0), np.cov(features, rowvar=False, ddof=1)


def _moments(name, value):
    if isinstance(value, tuple) and len(value) == 2:
        mu = np.asarray(value[0], dtype="float64")
        sigma = np.asarray(value[1], dtype="float64")
        d = mu.shape[0] if mu.ndim == 1 else -1
        if sigma.shape != (d, d):
            raise ValueError(
                f"`{name}` as moments must be (mu of shape (d,), sigma of "
                f"shape (d, d)). Received: shapes {mu.shape} and "
                f"{sigma.shape}"
            )
        return mu, sigma
    return feature_moments(_features_2d(name, value))


def _psd_sqrt(matrix):
    """Symmetric square root of a symmetric PSD matrix, by eigenvalues."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two feature sets.

    `||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`, the FID when the
    features come from Inception. The trace of the matrix square root is
    computed through the symmetric PSD matrix `S_a^(1/2) S_b S_a^(1/2)`,
    which has the same eigenvalues as `S_a S_b`: `Tr (S_a S_b)^(1/2)` is the
    sum of their square roots. Eigenvalues of symmetric matrices are exact
    to rounding even when the covariances are singular (fewer samples than
    dimensions), so no offset on the diagonal is needed, unlike with a
    general `scipy.linalg.sqrtm` of the non-symmetric product.

    Args:
        features_a: `(n_a, d)` features, or a `(mu, sigma)` pair.
        features_b: `(n_b, d)` features, or a `(mu, sigma)` pair.

    Returns:
        A non-negative float.

    Example:

    >>> a = np.random.default_rng(0).normal(size=(500, 8))
    >>> frechet_distance(a, a) < 1e-8
    True
    """
    mu_a, sigma_a = _moments("features_a", features_a)
    mu_b, sigma_b = _moments("features_b", features_b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(
            "Both feature sets must have the same dimension. Received: "
            f"d={mu_a.shape[0]} and d={mu_b.shape[0]}"
        )
    root_a = _psd_sqrt(sigma_a)
    product = root_a @ sigma_b @ root_a
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    distance = (
        np.sum((mu_a - mu_b) ** 2)
        + np.trace(sigma_a)
        + np.trace(sigma_b)
        - 2 * trace_sqrt
    )
    # Rounding can leave a tiny negative value for identical sets.
    return float(max(distance, 0.0))


def _polynomial_kernel(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x, y):
    m = x.shape[0]
    k_xx = _polynomial_kernel(x, x)
    k_yy = _polynomial_kernel(y, y)
    k_xy = _polynomial_kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (
        m * (m - 1)
    )
    return within - 2 * k_xy.sum() / (m * m)


def kernel_inception_distance(
    features_a, features_b, subsets=100, subset_size=1000, seed=0
):
    """Kernel Inception Distance: unbiased MMD^2, cubic polynomial kernel.

    With `k(x, y) = (x . y / d + 1)^3` and `m` samples from each set,
    `MMD^2 = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) /
    (m(m-1)) - 2 sum_{i,j} k(x_i, y_j) / m^2`. The estimate is averaged over
    `subsets` random subsets of `m = subset_size` samples drawn without
    replacement from each set (Binkowski et al.'s `polynomial_mmd_averages`,
    whose defaults are 1000 samples per subset). As in their code, `m` is
    lowered to the size of the smaller set when that is smaller. Being
    unbiased, the estimate of two samples of one distribution scatters
    around 0 and can be slightly negative.

    Args:
        features_a: `(n_a, d)` features.
        features_b: `(n_b, d)` features.
        subsets: number of random subsets averaged.
        subset_size: samples per subset, at most `min(n_a, n_b)` are used.
        seed: seed of the subset draws.

    Returns:
        `(mean, std)` of the MMD^2 estimates over the subsets (std 0 for a
        single subset).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) + 1
    >>> kid, _ = kernel_inception_distance(a, b, subsets=10, subset_size=100)
    >>> kid > 0
    True
    """
    a = _features_2d("features_a", features_a)
    b = _features_2d("features_b", features_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            "Both feature sets must have the same dimension. Received: "
            f"d={a.shape[1]} and d={b.shape[1]}"
        )
    subsets = positive_int("subsets", subsets)
    subset_size = integer("subset_size", subset_size, minimum=2)
    m = min(subset_size, a.shape[0], b.shape[0])
    rng = np.random.default_rng(seed)
    estimates = np.array(
        [
            _unbiased_mmd2(
                a[rng.choice(a.shape[0], m, replace=False)],
                b[rng.choice(b.shape[0], m, replace=False)],
            )
            for _ in range(subsets)
        ]
    )
    return float(estimates.mean()), float(estimates.std())


def fid(real_images, fake_images, extractor):
    """FID-type distance of two image sets under a feature extractor.

    Args:
        real_images: `(n, H, W, C)` images in [-1, 1].
        fake_images: `(m, H, W, C)` images in [-1, 1].
        extractor: a callable `images -> (n, d)` features, e.g.
            `InceptionFeatures()` (the FID of the literature) or an
            `MNISTClassifier` (an MNIST-FID).

    Returns:
        `frechet_distance(extractor(real_images), extractor(fake_images))`.
    """
    return frechet_distance(extractor(real_images), extractor(fake_images))
