"""Two JAX processes on localhost train one model with train_mnist.py.

Each process is started the way the README says, with Keras' launch
variables; CPU collectives go over gloo on the loopback interface.
"""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SMALL = (
    "--batch-size", "8", "--base-channels", "8", "--z-dim", "16",
    "--sample-every", "2", "--checkpoint-every", "1",
    "--distribution", "data-parallel",
)  # fmt: skip


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(port, rank, processes=2, **extra):
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND="jax",
        PYTHONPATH=str(ROOT),
        KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
        KERAS_DISTRIBUTION_NUM_PROCESSES=str(processes),
        KERAS_DISTRIBUTION_PROCESS_ID=str(rank),
        **extra,
    )
    return env


def start(out, *flags, port):
    command = [sys.executable, str(ROOT / "train_mnist.py"), "--out", str(out)]
    return [
        subprocess.Popen(
            [*command, *SMALL, *flags],
            env=environment(port, rank),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]


def finish(processes, timeout=300):
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=timeout)
        results.append((process.returncode, stdout, stderr))
    return results


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """Two processes training for long; process 1 is killed (SIGKILL) once
    a checkpoint exists. Returns the folder, process 0's result and the
    seconds it took to stop after the kill."""
    out = tmp_path_factory.mktemp("mnist-2p") / "run"
    processes = start(out, "--steps", "5000", port=free_port())
    metadata = out / "checkpoint" / "checkpoint.json"
    deadline = time.monotonic() + 240
    while not metadata.exists() and time.monotonic() < deadline:
        assert all(p.poll() is None for p in processes)
        time.sleep(0.2)
    assert metadata.exists()
    # One writer: while the two run, a third run on their folder stops
    # at once, naming process 0 (which alone holds the lock).
    intruder = subprocess.run(
        [sys.executable, str(ROOT / "train_mnist.py"), "--out", str(out),
         "--resume"],
        env={**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    holder = json.loads((out / ".kgan-lock").read_text())
    assert holder["pid"] == processes[0].pid
    processes[1].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    result = finish(processes[:1], timeout=120)[0]
    stopped_after = time.monotonic() - killed
    processes[1].communicate()
    return out, result, stopped_after, intruder


def test_a_second_run_on_the_folder_of_a_running_one_is_refused(killed_run):
    out, _, _, intruder = killed_run
    assert intruder.returncode == 2, intruder.stderr[-2000:]
    errors = [
        line
        for line in intruder.stderr.splitlines()
        if line.startswith("error")
    ]
    assert len(errors) == 1 and errors[0].startswith(
        f"error: another run is writing into {out}: pid "
    )
    assert "MNIST:" not in intruder.stdout


def test_a_dead_process_ends_the_other_in_seconds_with_one_line(killed_run):
    _, (code, _, stderr), stopped_after, _ = killed_run
    assert stopped_after < 30
    assert code == 1
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: process 0 of 2: training stopped")
    assert "--resume" in last and "step_" in last


def test_both_processes_resume_finish_and_only_process_0_writes(killed_run):
    out = killed_run[0]
    step = json.loads((out / "checkpoint" / "checkpoint.json").read_text())[
        "step"
    ]
    flags = ("--steps", str(step + 1), "--resume")
    results = finish(start(out, *flags, port=free_port()))
    for rank, (code, stdout, stderr) in enumerate(results):
        assert code == 0, f"process {rank}: {stderr[-2000:]}"
        assert f"at step {step}" in stdout, stdout[-2000:]  # the same step
        assert f"step: {step + 1}" in stdout
    chief, other = results[0][1], results[1][1]
    assert "in 2 processes" in chief
    assert "saved" in chief and "MNIST-FID" in chief
    # Process 1 trained (Keras' progress lines) but wrote and reported nothing.
    assert "saved" not in other and "MNIST-FID" not in other
    with open(out / "history.csv", newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    # Written by one process, each step once: a row is written after its
    # checkpoint, and a resume drops the rows past the step it loads.
    assert steps == list(range(1, step + 2))
    assert not list(out.rglob(".tmp-*"))
    assert not (out / ".kgan-lock").exists()

    import keras

    import kgan  # noqa: F401 (registers the saved layers)

    generator = keras.models.load_model(out / "generator.keras")
    assert generator.output_shape == (None, 32, 32, 1)


def test_a_batch_that_does_not_split_fails_before_any_work():
    # One process, two virtual devices: 7 images cannot split in two.
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND="jax",
        PYTHONPATH=str(ROOT),
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    out = subprocess.run(
        [
            sys.executable, str(ROOT / "train_mnist.py"),
            "--distribution", "data-parallel", "--batch-size", "7",
            "--out", os.devnull + "-unused",
        ],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "MNIST" not in out.stdout  # no data was loaded
    errors = [
        line for line in out.stderr.splitlines() if line.startswith("error:")
    ]
    assert errors == [
        "error: --batch-size 7 (the global batch) does not split across 2 "
        "replicas: use a multiple of 2, e.g. 6 or 8."
    ]


@pytest.mark.parametrize("rank", [0, 1])
def test_a_run_that_never_comes_together_fails_in_bounded_time(rank, tmp_path):
    # Process 0 waits for a process 1 that never starts; process 1 for a
    # coordinator that is not there.
    began = time.monotonic()
    out = subprocess.run(
        [
            sys.executable, str(ROOT / "train_mnist.py"), "--out",
            str(tmp_path / "run"), "--distribution", "data-parallel",
            "--join-timeout", "5",
        ],
        env=environment(free_port(), rank),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert time.monotonic() - began < 60
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "Check failure" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: process {rank} of 2: the run did not come together within "
        "--join-timeout 5 s"
    ), last
    assert not (tmp_path / "run").exists()


def test_join_processes_raises_when_the_coordinator_is_out_of_reach():
    code = (
        "import kgan\n"
        "try:\n"
        "    kgan.distribution.join_processes(initialization_timeout=3)\n"
        "except kgan.distribution.DistributionError as error:\n"
        "    print('REFUSED', error)\n"
    )
    began = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=environment(free_port(), rank=1),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert time.monotonic() - began < 60
    refused = [
        line for line in out.stdout.splitlines() if line.startswith("REFUSED")
    ]
    assert refused, out.stderr[-2000:]
    assert (
        "process 1 of 2 could not reach the coordinator 127.0.0.1:"
        in (refused[0])
    )
    assert "within 3 s" in refused[0]
