"""Input pipeline benchmark: can `kgan.data.image_folder` feed a DCGAN?

Measures, at 64 and 128 px and in one run, side by side:

- pipeline: images/s that `image_folder` delivers (decode, CelebA crop,
  antialiased resize, batch 64, no cache), read as fast as possible;
- train step: images/s that a DCGAN-sized one-step train step consumes, fed
  one batch held in memory, so that only the compute counts;
- ratio: pipeline / train step. The target is >= 5x, so the pipeline keeps
  up with headroom for a faster model, a busier host or a slower disk;
- end to end: images/s of the same step fed by the pipeline. Close to the
  train-step number means training is not waiting for data.

The train step is built here from `keras.layers` (Conv2DTranspose / Conv2D,
BatchNormalization, LeakyReLU; `max_channels = 8 * size` as in Su's DCGAN
scripts) with the single hinge loss of the one-step trainer, and one
RMSprop optimiser for both networks, so that the benchmark does not depend
on kgan's trainer.

Without `--data`, it writes CelebA-like JPEGs (178x218, smooth content, about
the file size of img_align_celeba) to a temporary folder.

Run (the numbers depend on the host's cores and on the accelerator):

    python benchmarks/input_pipeline.py
    python benchmarks/input_pipeline.py --data /path/to/img_align_celeba
    python benchmarks/input_pipeline.py --sizes 64 --steps 2  # a quick look
"""

## Setup

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Run from a checkout without `pip install -e .`.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from kgan.data.image_folder import image_folder  # noqa: E402
from kgan.data.scan import scan_image_folder  # noqa: E402

BATCH_SIZE = 64
Z_DIM = 128


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder of images (default: synthetic)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument(
        "--steps",
        type=int,
        help="timed train steps (default: 20 with a GPU, 3 on a CPU, where "
        "a 128 px step takes about a minute)",
    )
    parser.add_argument("--pipeline-batches", type=int, default=20)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--mixed-precision", action="store_true")
    return parser.parse_args()


## Data


def write_celeba_like(folder, count, seed=0):
    """JPEGs of CelebA's size whose smooth content compresses like photos."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        coarse = rng.integers(0, 256, (14, 12, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((178, 218), Image.BICUBIC)
        noisy = np.asarray(image, np.int16) + rng.integers(-6, 7, (218, 178, 3))
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(
            os.path.join(folder, f"{i:06d}.jpg"), quality=90
        )


def pipeline_rate(folder, size, steps):
    dataset = image_folder(
        folder, size, batch_size=BATCH_SIZE, crop="celeba", repeat=True
    )
    iterator = iter(dataset)
    for _ in range(5):  # warm up autotuning and the thread pools
        next(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return steps * BATCH_SIZE / (time.perf_counter() - start), dataset


## Model


def build_generator(size):
    num_layers = int(np.log2(size)) - 3
    channels = size * 8
    z = keras.Input((Z_DIM,))
    x = keras.layers.Dense(4 * 4 * channels)(z)
    x = keras.layers.Reshape((4, 4, channels))(x)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    for _ in range(num_layers):
        channels //= 2
        x = keras.layers.Conv2DTranspose(channels, 5, 2, padding="same")(x)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.Conv2DTranspose(3, 5, 2, padding="same")(x)
    image = keras.layers.Activation("tanh", dtype="float32")(x)
    return keras.Model(z, image, name="generator")


def build_discriminator(size):
    num_layers = int(np.log2(size)) - 2
    channels = size * 8 // 2 ** (num_layers - 1)
    image = keras.Input((size, size, 3))
    x = image
    for i in range(num_layers):
        x = keras.layers.Conv2D(channels * 2**i, 5, 2, padding="same")(x)
        if i > 0:  # no BN after the first convolution, as in DCGAN
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    score = keras.layers.Dense(1, dtype="float32")(keras.layers.Flatten()(x))
    return keras.Model(image, score, name="discriminator")


def make_train_step(size):
    generator, discriminator = build_generator(size), build_discriminator(size)
    optimizer = keras.optimizers.RMSprop(1e-4, rho=0.99)
    variables = (
        generator.trainable_variables + discriminator.trainable_variables
    )
    optimizer.build(variables)

    @tf.function
    def train_step(real):
        z = tf.random.normal((BATCH_SIZE, Z_DIM))
        with tf.GradientTape() as tape:
            fake = generator(z, training=True)
            fake_ng = tf.stop_gradient(fake)
            real_score = discriminator(real, training=True)
            fake_score = discriminator(fake_ng, training=True)
            # Zero in value: it only carries the generator's gradient.
            g_term = discriminator(fake, training=True) - fake_score
            loss = (
                tf.reduce_mean(tf.nn.relu(1.0 + real_score))
                + tf.reduce_mean(tf.nn.relu(1.0 - fake_score))
                + tf.reduce_mean(g_term)
            )
        optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables)
        )
        return loss

    return train_step


## Measure


def step_rate(train_step, batches, steps):
    train_step(next(batches))  # trace and warm up
    train_step(next(batches)).numpy()
    start = time.perf_counter()
    for _ in range(steps):
        loss = train_step(next(batches))
    loss.numpy()  # wait for the accelerator
    return steps * BATCH_SIZE / (time.perf_counter() - start)


def main():
    args = parse_args()
    if args.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    devices = ", ".join(d.name for d in tf.config.list_logical_devices())
    print(f"TensorFlow {tf.__version__}, devices: {devices}", flush=True)
    print(f"host cores: {os.cpu_count()}, batch {BATCH_SIZE}")
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    steps = args.steps or (20 if has_gpu else 3)
    if not has_gpu:
        print(
            "no GPU: the train step runs on the CPU, so the ratios below say "
            "nothing about a GPU run"
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data
        if folder is None:
            folder = tmp
            write_celeba_like(folder, args.images)
        start = time.perf_counter()
        files = scan_image_folder(folder)
        scan_seconds = time.perf_counter() - start
        print(f"quick scan: {len(files)} files in {scan_seconds:.2f} s")
        rows = []
        for size in args.sizes:
            pipeline, dataset = pipeline_rate(
                folder, size, args.pipeline_batches
            )
            held = tf.random.uniform((BATCH_SIZE, size, size, 3), -1, 1)
            train_step = make_train_step(size)
            consumed = step_rate(train_step, _forever(held), steps)
            fed = step_rate(train_step, iter(dataset), steps)
            rows.append((size, pipeline, consumed, pipeline / consumed, fed))
    print()
    print("size  pipeline img/s  train step img/s  ratio  end to end img/s")
    for size, pipeline, consumed, ratio, fed in rows:
        verdict = "ok" if ratio >= 5 else "below the 5x target"
        print(
            f"{size:4d}  {pipeline:14.0f}  {consumed:16.0f}  "
            f"{ratio:4.1f}x  {fed:16.0f}  ({verdict})"
        )


def _forever(batch):
    while True:
        yield batch


if __name__ == "__main__":
    main()
