"""The run folder under the faults users meet, through train_mnist.py in
subprocesses: two runs on one folder, a refused resume, a damaged newest
checkpoint, a killed run's lock. Each must end in one line (or resume
exactly) with `history.csv` holding each step once. Writes that fail:
test_write_failures.py.

The lock and resume tests also run in the JAX tier, on JAX.
"""

import json
import signal
import time
from pathlib import Path

import keras
import pytest
from helpers.script_helpers import (
    TINY,
    checkpoint_step,
    finish,
    ok,
    one_line_error,
    run_mnist,
    start_mnist,
    steps_in_history,
)

import kgan  # noqa: F401 (the saved models' layers)

pytestmark = pytest.mark.slow


# -- one writer, and a refused resume leaves the run as it was ------------
@pytest.mark.jax
def test_one_writer_and_a_refused_resume_changes_nothing(tmp_path):
    out = tmp_path / "run"
    runs = [start_mnist("--out", out, *TINY, "--steps", 2) for _ in range(2)]
    results = [finish(process) for process in runs]
    assert sorted(r[0] for r in results) == [0, 2], [
        r[2][-2000:] for r in results
    ]
    loser = max(results, key=lambda r: r[0])
    line = one_line_error(loser, 2)
    assert line.startswith(f"error: another run is writing into {out}: pid ")
    assert f"(`train_mnist.py --out {out}" in line
    assert "MNIST:" not in loser[1]  # before the data and the models
    assert not (out / ".kgan-lock").exists()  # released at the end
    saved = (out / "config.json").read_bytes()
    line = one_line_error(
        run_mnist("--out", out, "--resume", "--arch", "dcgan", "--z-dim", 32), 2
    )
    assert line == (
        f"error: cannot resume {out} with other model settings (--arch "
        "selfmod -> dcgan, --z-dim 16 -> 32): its checkpoint holds the "
        "run's own. Drop these to continue the run, or choose another "
        "--out for a new one."
    )
    assert (out / "config.json").read_bytes() == saved
    # The run itself is intact: --out and --resume are enough to continue
    # it, with its own settings and the flags typed now.
    stdout = ok(run_mnist("--out", out, "--resume", "--steps", 4))
    assert "config.json; from the command line: --steps 4" in stdout
    assert "at step 2" in stdout and checkpoint_step(out) == 4
    assert steps_in_history(out) == [2, 4]
    saved = json.loads((out / "config.json").read_text())
    assert (saved["arch"], saved["z_dim"], saved["steps"]) == ("selfmod", 16, 4)
    # The default run keeps a weight EMA; sampling from it and saving
    # (on JAX: "Array has been deleted" once) give a generator that loads.
    assert saved["ema"] == 0.999
    generator = keras.models.load_model(out / "generator.keras")
    assert generator.outputs[0].shape[1:] == (32, 32, 1)


# -- a damaged newest checkpoint: the older one, then all the way ----------
def test_a_fallback_resume_trains_to_steps_and_logs_each_step_once(tmp_path):
    out = tmp_path / "run"
    ok(run_mnist("--out", out, *TINY, "--steps", 6))
    newest = out / "checkpoint" / "step_000000006.weights.h5"
    newest.write_bytes(newest.read_bytes()[:1000])  # cut short
    (out / "metrics.json").unlink()
    stdout = ok(run_mnist("--out", out, "--resume", "--steps", 10))
    assert "resumed from" in stdout and "step_000000004.weights.h5" in stdout
    assert checkpoint_step(out) == 10
    assert steps_in_history(out) == [2, 4, 6, 8, 10]
    assert (out / "metrics.json").exists()


# -- a killed run's lock ---------------------------------------------------
def test_a_killed_run_resumes_and_its_lock_is_taken_over(tmp_path):
    out = tmp_path / "run"
    first = start_mnist("--out", out, *TINY, "--steps", 100000)
    metadata = out / "checkpoint" / "checkpoint.json"
    deadline = time.monotonic() + 240
    while not metadata.exists():
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)  # no handler runs: a hard crash
    first.communicate()
    assert first.returncode == -signal.SIGKILL
    step = checkpoint_step(out)
    assert step >= 2
    stdout = ok(run_mnist("--out", out, "--resume", "--steps", step + 2))
    assert (
        "taking over the lock of a run that ended without releasing it "
        f"(pid {first.pid} on "
    ) in stdout
    weights = out / "checkpoint" / f"step_{step:09d}.weights.h5"
    assert f"resumed from {weights} at step {step}" in stdout
    # Two more steps, not step + 2 from 0; each step once.
    steps = steps_in_history(out)
    assert steps[-1] == step + 2 and steps == sorted(set(steps))
    assert checkpoint_step(out) == step + 2
    assert (out / "generator.keras").exists()


# -- a closed stdout (`| head`) is an interruption, not a failed write -------
def test_a_closed_output_pipe_saves_and_stops_as_an_interruption(tmp_path):
    out = tmp_path / "run"
    run = start_mnist(
        *TINY, "--steps", "400", "--checkpoint-every", "200", "--out", out
    )
    # The last line before `fit`; Keras' next line ("Epoch 1/2") fails.
    for line in run.stdout:
        if line.startswith("generator "):
            break
    run.stdout.close()  # the reader goes away, as `| head -3` does
    stderr = run.stderr.read()
    code = run.wait(timeout=300)
    lines = stderr.strip().splitlines()
    assert code == 130 and len(lines) == 1, stderr[-2000:]
    assert lines[0].startswith("error: the output pipe closed; the state is")
    assert "--resume" in lines[0] and "could not write" not in lines[0]
    saved = lines[0].split("the state is saved in ")[1].split(". Run")[0]
    assert Path(saved).is_file() and checkpoint_step(out) in (0, 200)

    # Closed before training: one line too, and nothing to resume.
    early = start_mnist(*TINY, "--steps", "4", "--out", tmp_path / "early")
    early.stdout.close()
    stderr = early.stderr.read()
    assert early.wait(timeout=300) == 1, stderr[-2000:]
    assert stderr.strip().splitlines() == [
        "error: the output pipe closed before training started; stopped."
    ]
