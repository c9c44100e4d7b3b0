"""The experiments of docs/RESULTS.md: the claims of Su's
posts (architectures, one-step training, O-GAN) on MNIST.

Run everything (resumable: finished runs are kept in docs/results/runs/):

    python benchmarks/experiments.py run            # all tables, 3 seeds
    python benchmarks/experiments.py run --tables losses --seeds 0
    python benchmarks/experiments.py cost           # table 3 (timing only)
    python benchmarks/experiments.py script         # section 11: the script
    python benchmarks/experiments.py report         # writes docs/RESULTS.md

Every training run is one subprocess (`--child`) on the bundled real digits:
4,500 train the GAN, the other 500 are held out (O-GAN's reconstructions).
Every `--eval-every` steps it logs the MNIST-FID of 1,000 samples from a
fixed z against 2,500 training digits and the training time so far
(evaluation excluded); at the end the MNIST-FID of 2,500 samples (as
train_mnist.py's metrics.json), class coverage and the parameter counts.
Runs share a configuration across tables (the DCGAN / hinge / one-step run
is the baseline of four of them) and are trained once.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time

from tables import (  # noqa: F401 (the tests read them here too)
    ADA,
    AUGMENT,
    BASE,
    DEFAULT_TABLES,
    IMAGES,
    OWN_BUDGET,
    RESULTS,
    ROOT,
    RUNS,
    TABLES,
    run_key,
)


# -- one training run (in its own process) ---------------------------------
def train_run(config, seed, steps, eval_every, threads, key):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras
    import numpy as np

    import kgan
    from kgan import metrics, recipes, sampling

    keras.utils.set_random_seed(seed)
    images, labels = kgan.data.load_mnist()
    order = np.random.default_rng(1234).permutation(len(images))
    train, held = order[:4500], order[4500:]
    reference = images[train[:2500]]  # the full data's, whatever trains
    train = train[: config.get("train_size") or len(train)]
    num_classes = 10 if config["conditional"] else None
    settings = {
        k: v
        for k, v in config.items()
        if k not in ("conditional", "train_size")
    }
    run = recipes.RunConfig(
        **settings, image_size=32, channels=1, num_classes=num_classes,
        steps=steps, seed=seed, xla="off", ema=None,
    )  # fmt: skip
    gan, generator, discriminator = recipes.build(run)
    dataset = kgan.data.mnist_dataset(
        images[train],
        labels[train] if num_classes else None,
        batch_size=config["batch_size"],
        seed=seed,
    )
    classifier = metrics.mnist_classifier()
    curve = training_curve(reference, classifier, num_classes)
    callbacks = [curve]
    if run.progressive:  # the level follows the step, as in the scripts
        from kgan.callbacks import ProgressiveSchedule

        callbacks.append(ProgressiveSchedule(*run.progressive_schedule))
    gan.fit(
        dataset,
        epochs=steps // eval_every,
        steps_per_epoch=eval_every,
        callbacks=callbacks,
        verbose=0,
    )

    n = 2500
    sample_labels = None if num_classes is None else np.arange(n) % 10
    fakes = sampling.sample(generator, n, labels=sample_labels, seed=seed)
    coverage = metrics.class_coverage(fakes, classifier)
    result = {
        "config": config,
        "seed": seed,
        "steps": steps,
        "curve": curve.points,
        "mnist_fid": float(metrics.mnist_fid(fakes, reference, classifier)),
        "classes_covered": int(coverage["covered"]),
        "class_shares": [float(x) for x in coverage["shares"]],
        "seconds_per_step": curve.points[-1]["seconds"] / steps,
        "threads": threads,
        "g_params": int(generator.count_params()),
        "d_params": int(discriminator.count_params()),
    }
    if getattr(gan, "adaptive_augment", False):  # ADA's p where it ended
        p = gan.augment.probability
        result["augment_p"] = float(keras.ops.convert_to_numpy(p))
    if num_classes:
        predicted = classifier.predict_classes(fakes)
        result["label_accuracy"] = float(np.mean(predicted == sample_labels))
    if config["ogan"]:
        rebuilt = gan.reconstruct(images[held])
        real_class = classifier.predict_classes(images[held])
        rebuilt_class = classifier.predict_classes(rebuilt)
        result["reconstruction_agreement"] = float(
            np.mean(real_class == rebuilt_class)
        )
        result["reconstruction_label_accuracy"] = float(
            np.mean(rebuilt_class == labels[held])
        )
        if seed == 0:
            _save_rows(
                IMAGES / f"{key}_reconstructions.png",
                images[held[:10]],
                rebuilt[:10],
            )
    if seed == 0:
        grid_labels = None if num_classes is None else np.arange(64) % 10
        grid = sampling.sample(generator, 64, labels=grid_labels, seed=seed)
        _save_grid(IMAGES / f"{key}.png", grid, rows=8)
    return result


def training_curve(reference, classifier, num_classes):
    """A callback recording the curve of a run (a factory: keras is
    imported in the child only, after its thread count is set)."""
    import keras
    import numpy as np

    from kgan import metrics, sampling

    class Curve(keras.callbacks.Callback):
        """Each epoch end: MNIST-FID (1,000 samples, fixed z), the
        epoch's logs, and the training seconds so far (evaluation time
        excluded)."""

        def __init__(self):
            super().__init__()
            self.points = []
            self.real = metrics.feature_moments(classifier.features(reference))
            self.eval_seconds = 0.0

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            labels = None if num_classes is None else np.arange(1000) % 10
            with self.model.ema_weights():
                fakes = sampling.sample(
                    self.model.generator, 1000, labels=labels, seed=12345
                )
            fid = metrics.frechet_distance(
                self.real, classifier.features(fakes)
            )
            point = {k: float(v) for k, v in (logs or {}).items()}
            point.update(
                step=int(keras.ops.convert_to_numpy(self.model.current_step())),
                seconds=now - self.start - self.eval_seconds,
                fid_1000=float(fid),
            )
            self.points.append(point)
            self.eval_seconds += time.perf_counter() - now

    return Curve()


def _save_grid(path, images, rows):
    from kgan.callbacks import save_image_grid

    path.parent.mkdir(parents=True, exist_ok=True)
    save_image_grid(path, images, rows=rows)


def _save_rows(path, real, rebuilt):
    import numpy as np

    _save_grid(path, np.concatenate([real, rebuilt]), rows=2)


# -- table 3: cost of DCGAN vs ResNet ----------------------------------------
def cost_run(arch, size, steps, batch_size):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    import kgan

    def rss_mib(kind):
        with open("/proc/self/status") as f:
            line = next(x for x in f if x.startswith(kind))
        return int(line.split()[1]) / 1024

    before = rss_mib("VmRSS:")  # TensorFlow is loaded; no model yet
    keras.utils.set_random_seed(0)
    build = {
        "dcgan": kgan.models.dcgan_generator,
        "resnet": kgan.models.resnet_generator,
    }[arch]
    build_d = {
        "dcgan": kgan.models.dcgan_discriminator,
        "resnet": kgan.models.resnet_discriminator,
    }[arch]
    g, d = build(size, 3, 128), build_d(size, 3)
    gan = kgan.training.OneStepGAN(g, d)
    gan.compile(keras.optimizers.RMSprop(1e-4, rho=0.99))
    images = np.random.uniform(-1, 1, (batch_size, size, size, 3))
    data = tf.data.Dataset.from_tensors(images.astype("float32")).repeat()
    gan.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # trace, warm up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        gan.fit(data, steps_per_epoch=1, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    peak = rss_mib("VmHWM:") - before  # growth of the peak resident set
    return {
        "arch": arch,
        "size": size,
        "batch_size": batch_size,
        "seconds_per_step": float(np.median(times)),
        "peak_mib": peak,
        "g_params": int(g.count_params()),
        "d_params": int(d.count_params()),
    }


# -- the parent: schedule runs ---------------------------------------------
def planned_runs(tables, seeds, steps):
    """{key: (overrides, seed)} in the order to run them: every
    configuration's first seed first, so an interrupted schedule leaves
    whole tables with fewer seeds; then the other seeds, the configurations
    whose first run was quickest first."""
    configs = {}
    for table in tables:
        for _, overrides in TABLES[table]:
            configs[run_key(overrides, seeds[0], steps)] = overrides

    def first_run_seconds(key):
        path = RUNS / f"{key}.json"
        if not path.exists():
            return 0.0
        return json.loads(path.read_text())["curve"][-1]["seconds"]

    runs = {key: (overrides, seeds[0]) for key, overrides in configs.items()}
    for seed in seeds[1:]:
        for key in sorted(configs, key=first_run_seconds):
            overrides = configs[key]
            runs[run_key(overrides, seed, steps)] = (overrides, seed)
    return runs


def child_command(key, overrides, seed, args):
    spec = json.dumps(
        {
            "key": key,
            "overrides": overrides,
            "seed": seed,
            "steps": args.steps,
            "eval_every": args.eval_every,
            "threads": args.threads,
        }
    )
    return [sys.executable, __file__, "child", spec]


def run_all(args):
    RUNS.mkdir(parents=True, exist_ok=True)
    todo = {
        key: spec
        for key, spec in planned_runs(
            args.tables, args.seeds, args.steps
        ).items()
        if not (RUNS / f"{key}.json").exists()
    }
    print(f"{len(todo)} runs to do, {args.workers} at a time", flush=True)

    def launch(item):
        key, (overrides, seed) = item
        start = time.time()
        out = subprocess.run(
            child_command(key, overrides, seed, args),
            capture_output=True,
            text=True,
        )
        status = "ok" if out.returncode == 0 else out.stderr[-2000:]
        return key, time.time() - start, status

    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        for key, seconds, status in pool.map(launch, todo.items()):
            print(f"{key}: {seconds:.0f} s {status}", flush=True)


def run_child(spec):
    spec = json.loads(spec)
    # "base" changes BASE itself (the tests shrink the nets with it).
    config = {**BASE, **spec.get("base", {}), **spec["overrides"]}
    result = train_run(
        config,
        spec["seed"],
        spec["steps"],
        spec["eval_every"],
        spec["threads"],
        spec["key"],
    )
    result["key"] = spec["key"]
    RUNS.mkdir(parents=True, exist_ok=True)
    path = RUNS / f"{spec['key']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, path)  # a killed run leaves no half-written result


def run_cost(args):
    results = []
    for size in args.sizes:
        for arch in ("dcgan", "resnet"):
            cmd = [
                sys.executable,
                __file__,
                "cost-child",
                json.dumps([arch, size, args.cost_steps, args.batch_size]),
            ]
            out = subprocess.run(
                cmd, capture_output=True, text=True, check=True
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(row, flush=True)
            results.append(row)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cost.json").write_text(json.dumps(results, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train the runs of the tables")
    run.add_argument(
        "--tables", nargs="+", default=DEFAULT_TABLES, choices=list(TABLES)
    )
    run.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    run.add_argument("--steps", type=int, default=500)
    run.add_argument("--eval-every", type=int, default=100)
    run.add_argument("--workers", type=int, default=2, help="runs in parallel")
    run.add_argument(
        "--threads", type=int, default=1, help="TensorFlow threads per run"
    )
    cost = sub.add_parser("cost", help="table 3: DCGAN vs ResNet cost")
    cost.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    cost.add_argument("--cost-steps", type=int, default=5)
    cost.add_argument("--batch-size", type=int, default=32)
    script = sub.add_parser(
        "script", help="section 11: runs of train_mnist.py as typed"
    )
    script.add_argument("names", nargs="*", help="rows (default: all)")
    script.add_argument("--workers", type=int, default=1)
    report = sub.add_parser("report", help="write docs/RESULTS.md")
    report.add_argument("--steps", type=int, default=500)
    report.add_argument("--fid-target", type=float, default=None)
    report.add_argument(
        "--long-steps",
        type=int,
        default=2000,
        help="budget of section 8 (the `longer` runs), when they exist",
    )
    child = sub.add_parser("child")
    child.add_argument("spec")
    cost_child = sub.add_parser("cost-child")
    cost_child.add_argument("spec")
    args = parser.parse_args()
    if args.command == "run":
        run_all(args)
    elif args.command == "child":
        run_child(args.spec)
    elif args.command == "cost":
        run_cost(args)
    elif args.command == "script":
        import script_runs

        unknown = set(args.names) - set(script_runs.ROWS)
        if unknown:
            parser.error(f"no such rows: {sorted(unknown)}; rows: "
                         f"{list(script_runs.ROWS)}")  # fmt: skip
        script_runs.run_rows(args.names, args.workers)
    elif args.command == "cost-child":
        print(json.dumps(cost_run(*json.loads(args.spec))))
    else:
        from results_report import write_report

        write_report(args.steps, args.fid_target, args.long_steps)


if __name__ == "__main__":
    main()
