"""Where a run executes: one device, or data-parallel over many.

kgan runs on the engines Keras supports rather than a home-made one:

- TensorFlow: `tf.distribute.MirroredStrategy`, one host, its GPUs (Keras 3
  has no `MultiWorkerMirroredStrategy`, keras-team/keras#20585);
- JAX: `keras.distribution.DataParallel` over every device of every
  process. Processes join through Keras' own launch convention, the
  variables `KERAS_DISTRIBUTION_JOB_ADDRESSES` (the coordinator's
  `host:port` first), `KERAS_DISTRIBUTION_NUM_PROCESSES` and
  `KERAS_DISTRIBUTION_PROCESS_ID`.

In both the batch a dataset yields is the global batch: each step averages
the loss over it, so a data-parallel step equals the single-device step on
the same batch (tests/test_distribution_jax.py, tests/test_distributed.py).
Under JAX's SPMD model BatchNorm statistics and the generator's noise are
those of the whole global batch too; under MirroredStrategy each replica
draws its own noise and normalises its own slice.

In a multi-process run every process executes the same program (each
collective needs all of them), Keras gives each process its own slice of
each global batch, and only process 0 (`is_chief()`) writes files.
"""

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass

import keras
import numpy as np

from kgan._checks import positive_int

MODES = ("none", "data-parallel")
JOB_ADDRESSES = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
NUM_PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"
LAUNCH_VARIABLES = (JOB_ADDRESSES, NUM_PROCESSES, PROCESS_ID)


class DistributionError(ValueError):
    """A distributed set-up that cannot work; the message is one line that
    names the problem and the fix."""


class JoinTimeout(DistributionError):
    """The processes of a run did not come together in time. The process
    is stuck inside JAX's join: end it at once, without Python's clean-up
    (which would wait on JAX)."""

    exit_code = 2
    end_at_once = True


def process_index():
    """This process's rank: 0 unless a multi-process JAX run was joined."""
    if keras.backend.backend() != "jax":
        return 0
    import jax

    return jax.process_index()


def process_count():
    """Processes in the run: 1 unless a multi-process JAX run was joined."""
    if keras.backend.backend() != "jax":
        return 1
    import jax

    return jax.process_count()


def is_chief():
    """True in the process that writes the run's files (process 0)."""
    return process_index() == 0


def launch_settings(environ=None):
    """`(coordinator, num_processes, process_id)` from Keras' variables,
    or None when none of them is set.

    Raises `DistributionError` for a partial or malformed set.
    """
    environ = os.environ if environ is None else environ
    given = {name: environ.get(name, "").strip() for name in LAUNCH_VARIABLES}
    if not any(given.values()):
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise DistributionError(
            f"a multi-process run needs all of {', '.join(LAUNCH_VARIABLES)}; "
            f"missing: {', '.join(missing)}. Set them, or unset the others "
            "for a single-process run."
        )
    try:
        count = int(given[NUM_PROCESSES])
        rank = int(given[PROCESS_ID])
    except ValueError:
        raise DistributionError(
            f"{NUM_PROCESSES}={given[NUM_PROCESSES]!r} and "
            f"{PROCESS_ID}={given[PROCESS_ID]!r} must be integers."
        ) from None
    if count < 1 or not 0 <= rank < count:
        raise DistributionError(
            f"{PROCESS_ID}={rank} must be in [0, {NUM_PROCESSES}={count}): "
            "number the processes 0, 1, ..., N - 1."
        )
    # Keras' convention: all addresses, comma-separated, the coordinator
    # (process 0) first; JAX needs only the coordinator's.
    addresses = [a.strip() for a in given[JOB_ADDRESSES].split(",")]
    if len(addresses) > 1 and len(addresses) != count:
        raise DistributionError(
            f"{JOB_ADDRESSES} lists {len(addresses)} addresses for "
            f"{NUM_PROCESSES}={count}: give one per process, or only the "
            "coordinator's (process 0) host:port."
        )
    coordinator = addresses[0]
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit():
        raise DistributionError(
            f"{JOB_ADDRESSES}={given[JOB_ADDRESSES]!r}: the coordinator "
            "must be host:port, e.g. 10.0.0.1:1234."
        )
    return coordinator, count, rank


def join_processes(
    initialization_timeout=60, heartbeat_timeout=60, join_timeout=None
):
    """Joins the multi-process run Keras' launch variables describe.

    Call it once, first thing, before any computation. Without the
    variables it does nothing. On a host without an accelerator the CPU
    collectives go over gloo (TCP), so a multi-process run works on CPUs
    (and in tests, over loopback).

    Keras' `keras.distribution.initialize()` reads the same variables and
    calls `jax.distributed.initialize`, but with JAX's default timeouts
    (5 minutes to find the coordinator); this calls it with bounded ones.
    A process other than 0 that cannot reach the coordinator raises within
    `initialization_timeout` seconds. When the coordinator is up but a
    process never joins, JAX itself ends every waiting process after that
    time (a fatal error of its own, which Python cannot catch: the scripts
    print their one-line message just before). A process whose peer died
    stops at its next collective step, or after `heartbeat_timeout`.

    Set the seed (`keras.utils.set_random_seed`) the same in every process:
    the weights start equal only then.

    Args:
        initialization_timeout: seconds to wait for every process to join.
        heartbeat_timeout: seconds of silence after which a process counts
            as dead.
        join_timeout: seconds after which to stop waiting and raise
            `JoinTimeout` (before JAX's own, fatal, `initialization_timeout`).
            The process is then stuck in JAX's join and must end at once
            (skipping Python's clean-up, which would wait on JAX).

    Returns:
        The number of processes (1 without the variables).

    Raises:
        DistributionError: a malformed launch, a backend other than JAX, or
            a coordinator that cannot be reached in time.
        JoinTimeout: the processes did not come together in `join_timeout`.
    """
    settings = launch_settings()
    if settings is None:
        return 1
    coordinator, count, rank = settings
    if keras.backend.backend() != "jax":
        raise DistributionError(
            f"{NUM_PROCESSES} is set, but several processes train one model "
            "only on JAX (Keras 3 has no MultiWorkerMirroredStrategy): run "
            "with KERAS_BACKEND=jax."
        )
    import jax

    if jax.distributed.is_initialized():
        return jax.process_count()
    initialization_timeout = positive_int(
        "initialization_timeout", initialization_timeout
    )
    heartbeat_timeout = positive_int("heartbeat_timeout", heartbeat_timeout)
    # CPU devices need a collectives transport to talk across processes
    # (gloo, over TCP); accelerators bring their own (NCCL, ICI). Asking
    # which devices exist would start the backend, which must come after
    # `initialize`: the setting is harmless on a GPU host.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")

    def join():
        if rank != 0:
            # JAX aborts the whole process (a C++ fatal error, no
            # exception) when it cannot register with the coordinator:
            # look first.
            _wait_for_coordinator(
                coordinator, initialization_timeout, rank, count
            )
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=count,
            process_id=rank,
            initialization_timeout=initialization_timeout,
            heartbeat_timeout_seconds=heartbeat_timeout,
        )

    if join_timeout is None:
        join()
        return count
    # JAX blocks in C++ while it waits (no exception, no signal reaches
    # Python) and later aborts with a stack trace: wait for it in a
    # thread, and give up first.
    failed = []

    def attempt():
        try:
            join()
        except Exception as error:  # re-raised in the caller's thread
            failed.append(error)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(positive_int("join_timeout", join_timeout))
    if worker.is_alive():
        raise JoinTimeout(
            f"process {rank} of {count}: the run did not come together "
            f"within `join_timeout` {join_timeout} s: start all {count} "
            "processes with the same command and variables (process 0 "
            f"listens on {coordinator}), and check the address, the port "
            "and the firewall."
        )
    if failed:
        raise failed[0]
    return count


def _wait_for_coordinator(coordinator, timeout, rank, count):
    """Returns once `coordinator` (host:port) accepts TCP connections;
    raises `DistributionError` after `timeout` seconds."""
    host, _, port = coordinator.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), 2):
                return
        except OSError as error:
            if time.monotonic() >= deadline:
                raise DistributionError(
                    f"process {rank} of {count} could not reach the "
                    f"coordinator {coordinator} within {timeout} s "
                    f"({error.strerror or error}): start process 0 there "
                    "with the same variables, and check the address, the "
                    "port and the firewall."
                ) from None
            time.sleep(0.5)


@dataclass(frozen=True)
class Placement:
    """Where a run's models live, and how its batches split.

    Build the models and the trainer, and train, inside `scope()`.

    Attributes:
        mode: `"none"` or `"data-parallel"`.
        replicas: devices a global batch is split across.
        processes: processes taking part (JAX multi-process runs).
        devices: a short description of the devices, for the log.
    """

    mode: str
    replicas: int
    processes: int
    devices: str
    engine: object = None  # MirroredStrategy or keras DataParallel

    def scope(self):
        """Context in which to build, compile and fit."""
        if self.engine is None:
            return contextlib.nullcontext()
        return self.engine.scope()

    def check_batch_size(self, batch_size):
        """Raises `DistributionError` unless `batch_size` (the global batch)
        splits evenly across the replicas."""
        batch_size = positive_int("batch_size", batch_size)
        if batch_size % self.replicas:
            lower = batch_size - batch_size % self.replicas
            suggestion = f"{lower} or " if lower else ""
            raise DistributionError(
                f"--batch-size {batch_size} (the global batch) does not "
                f"split across {self.replicas} replicas: use a multiple of "
                f"{self.replicas}, e.g. {suggestion}"
                f"{lower + self.replicas}."
            )
        return batch_size

    def describe(self):
        if self.mode == "none":
            return f"one device ({self.devices})"
        plural = "s" if self.replicas > 1 else ""
        where = f"{self.replicas} replica{plural} ({self.devices})"
        if self.processes > 1:
            where += f" in {self.processes} processes"
        return f"data-parallel over {where}"


def place(mode="none"):
    """Sets up `mode` for this process; call before building any model.

    `"data-parallel"` on TensorFlow is a `MirroredStrategy` over the local
    GPUs (or the CPU, one replica, without one); on JAX a Keras
    `DataParallel` over every device of every process (join them first
    with `join_processes`). A run of several processes must be
    data-parallel.

    Args:
        mode: `"none"` or `"data-parallel"`.

    Returns:
        A `Placement`.

    Example:

    ```python
    placement = kgan.distribution.place("data-parallel")
    placement.check_batch_size(64)
    with placement.scope():
        gan = kgan.training.OneStepGAN(g_fn(), d_fn())
        gan.compile(keras.optimizers.Adam(2e-4, 0.5))
        gan.fit(dataset.batch(64), epochs=1)
    ```
    """
    if mode not in MODES:
        raise DistributionError(
            f"distribution {mode!r} is not one of {', '.join(MODES)}."
        )
    backend = keras.backend.backend()
    if mode == "none":
        if process_count() > 1:
            raise DistributionError(
                f"{process_count()} processes joined, but the distribution "
                "is 'none': use data-parallel (--distribution "
                f"data-parallel), or unset {NUM_PROCESSES}."
            )
        return Placement("none", 1, 1, _device_names(backend)[0] or "cpu")
    if backend == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
        names = [
            d.split("device:")[-1] for d in strategy.extended.worker_devices
        ]
        return Placement(
            mode,
            strategy.num_replicas_in_sync,
            1,
            _summarise(names),
            strategy,
        )
    if backend == "jax":
        import jax

        devices = jax.devices()
        engine = keras.distribution.DataParallel(devices=devices)
        names = [f"{d.platform}:{d.id}" for d in devices]
        return Placement(
            mode, len(devices), jax.process_count(), _summarise(names), engine
        )
    raise DistributionError(
        f"data-parallel runs on the TensorFlow or JAX backend, not {backend}: "
        "set KERAS_BACKEND=tensorflow or jax."
    )


def _device_names(backend):
    if backend == "jax":
        import jax

        return [f"{d.platform}:{d.id}" for d in jax.local_devices()]
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return [d.name.split("device:")[-1] for d in gpus[:1]] or ["CPU:0"]
    return [backend]


def _summarise(names):
    kinds = sorted({n.split(":")[0] for n in names})
    return ", ".join(
        f"{sum(n.startswith(k + ':') for n in names)} x {k}" for k in kinds
    )


def predict(model, inputs, batch_size=64):
    """`model.predict(inputs)`, in every placement, as a NumPy array.

    In a multi-process run Keras' `predict` accepts only a `tf.data`
    dataset to shard across the processes; pictures and samples need the
    whole output in every process instead, so there the model is called
    on each batch directly (every process must make the same call: each
    forward pass is one collective computation).
    """
    batch_size = positive_int("batch_size", batch_size)
    if process_count() == 1 or keras.distribution.distribution() is None:
        return np.asarray(
            model.predict(inputs, batch_size=batch_size, verbose=0)
        )
    arrays = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    n = len(arrays[0])
    outputs = []
    for start in range(0, n, batch_size):
        batch = [np.asarray(a[start : start + batch_size]) for a in arrays]
        x = batch if isinstance(inputs, (list, tuple)) else batch[0]
        outputs.append(keras.ops.convert_to_numpy(model(x, training=False)))
    return np.concatenate(outputs)


def check_same_everywhere(value, what):
    """Raises `DistributionError` unless the integer `value` is the same in
    every process of the run. A collective: every process must call it.

    Args:
        value: an int, e.g. the step a checkpoint restored.
        what: its name in the message.
    """
    if process_count() == 1:
        return
    from jax.experimental import multihost_utils

    values = np.asarray(
        multihost_utils.process_allgather(np.asarray(int(value), "int32"))
    ).ravel()
    if (values != values[0]).any():
        found = ", ".join(f"process {i}: {v}" for i, v in enumerate(values))
        raise DistributionError(
            f"the processes disagree on {what} ({found}): every process must "
            "read the same --out (shared storage) and run the same command."
        )


def broadcast_from_chief(value):
    """Process 0's integer `value`, in every process: what process 0
    decided alone (it opened the run folder, say) reaches the others. A
    collective: every process must call it."""
    if process_count() == 1:
        return int(value)
    from jax.experimental import multihost_utils

    return int(
        multihost_utils.broadcast_one_to_all(np.asarray(int(value), "int32"))
    )


@contextlib.contextmanager
def process_local():
    """Inside, Keras creates this process's own variables, not distributed
    ones.

    Under a multi-process JAX distribution, creating any Keras variable is
    a collective step (its value is checked equal in every process), and
    Keras' saving creates some (a reference optimizer). Process 0 writes
    the run's files alone, so it saves inside this block.
    """
    current = keras.distribution.distribution()
    if current is None or process_count() == 1:
        yield
        return
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(current)
