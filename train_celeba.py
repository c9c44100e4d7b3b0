"""
Title: O-GAN on CelebA: faces you can also encode
Description: Su Jianlin's O-GAN CelebA run with kgan: a SELF-MOD generator,
a discriminator that doubles as an encoder, one loss and one `fit`.

Run:
    python train_celeba.py --data PATH/TO/FACES          # Su's 128 px run
    python train_celeba.py --data img_align_celeba --crop celeba
    python train_celeba.py --data PATH --image-size 64 --no-ogan --loss hinge

The defaults are those of Su's o_gan_celeba_sm_4x4.py (128 px, z_dim
128, batch 64, RMSprop(1e-4, rho=0.99), SELF-MOD generator with hidden
width z_dim, 4x4 kernels, O-GAN with correlation weight 0.5); `--preset`
gives his other two scripts (o_gan_celeba: BN generator, 5x5 kernels;
o_gan_celeba_sm_4x4_ema_256: 256 px, z_dim 256, batch 48, weight 1.0 and
an EMA of the whole model); see --help. --data is any folder of images
(searched recursively; unreadable files are skipped with a warning, grey
and RGBA images become RGB). CelebA-HQ is square; for the 178x218 aligned
CelebA use `--crop celeba`, the 108 px face box of DCGAN-tensorflow.

Writes to --out (default runs/celeba): samples/ with a 9x9 grid of a fixed
z, an 8x8 grid of real | reconstructed pairs and a slerp strip every
--sample-every steps, history.csv, loss.png, checkpoint/ (--resume
continues from it: Ctrl-C writes one at the current step, after a kill the
last periodic one is used), and generator.keras at the end.
"""

## Setup
import os
import sys

# kgan drops TensorFlow's start-up lines (kgan/_quiet.py) unless
# TF_CPP_MIN_LOG_LEVEL is set.
os.environ.setdefault("KGAN_QUIET_START", "1")

try:
    import kgan  # noqa: E402
except ImportError as error:  # an unsupported Python, Keras or backend
    if type(error).__name__ != "UnsupportedEnvironment":
        raise
    sys.exit(f"{os.path.basename(__file__)}: {error}")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kgan import cli, recipes  # noqa: E402

RECONSTRUCTED = 32  # real images in the 8x8 grid of real | rebuilt pairs


def parse_args(argv=None):
    parser = cli.common_parser(
        __doc__.strip().splitlines()[0].replace("Title: ", ""),
        out=os.path.join("runs", "celeba"),
        steps=100_000,
        image_size=128,
        arch="auto",  # SELF-MOD; PGGAN's DCGAN form with --progressive
        ogan=True,
        checkpoint_every=500,
    )
    return cli.parse(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    placement = cli.placement(args)  # before anything runs on a device
    config = cli.run_config(args, channels=3)
    if config.data is None:  # a resumed run knows its own
        cli.fail("--data is required: a folder of face images.")
    # Checked and locked before any data is read or model built.
    with recipes.open_run(config):
        train(args, config, placement)


def train(args, config, placement):
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")

    ## Data (the global batch: Keras gives each process its slice of it)
    try:
        files = kgan.data.scan_image_folder(config.data)
    except OSError as error:
        cli.fail(str(error))
    cli.say(f"{config.data}: {len(files)} images")

    def faces(start_batch):
        return kgan.data.image_folder(
            files,
            config.image_size,
            batch_size=config.batch_size,
            crop=None if config.crop == "none" else config.crop,
            seed=config.seed,
            repeat=True,
            start_batch=start_batch,
        )

    try:
        first = faces(0)
    except OSError as error:
        cli.fail(str(error))
    real_images = []
    for batch in first:  # the fixed images of the reconstruction grid
        real_images.extend(np.asarray(batch))
        if len(real_images) >= RECONSTRUCTED:
            break
    real_images = np.stack(real_images[:RECONSTRUCTED])

    with placement.scope():
        ## Model
        gan, generator, discriminator = recipes.build(config)
        cli.say(
            f"generator {generator.count_params():,} parameters, "
            f"discriminator {discriminator.count_params():,}"
        )

        ## Train
        callbacks = recipes.run_callbacks(
            config, gan, real_images=real_images, sample_rows=9,
            learning_rates=cli.learning_rates(args),
        )  # fmt: skip
        # A resumed run starts the data where its checkpoint stopped, and
        # shows the same real images in its grids.
        start = recipes.restore(config, gan, callbacks)
        dataset = first if start == 0 else faces(start)
        if not recipes.train(config, gan, dataset, callbacks):
            return  # the run is finished already
        recipes.save_generator(config, generator, callbacks)


if __name__ == "__main__":
    code, at_once = cli.outcome(main)
    # A process of a multi-process run whose peers are gone must not wait
    # in JAX's shutdown barrier: it ends at once.
    (os._exit if at_once else sys.exit)(code)
