"""Writes that fail, through train_mnist.py in subprocesses: an `--out`
that cannot be written, a full disk at a checkpoint, any other file that
cannot be written. Each ends in one line, leaves no partial file, and the
run resumes with `history.csv` holding each step once.

One writer and resumes: test_run_folder_scripts.py.
"""

import resource
import signal

import pytest
from helpers.script_helpers import (
    TINY,
    checkpoint_step,
    finish,
    leftovers,
    ok,
    one_line_error,
    run_mnist,
    start_mnist,
    steps_in_history,
)

pytestmark = pytest.mark.slow


# -- an --out that cannot be written ------------------------------------
def test_an_out_that_cannot_be_written_fails_before_any_work(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    read_only = tmp_path / "read-only"
    cases = {
        "under a file": ((a_file / "run",), None, "(Not a directory)"),
        "under /proc": (("/proc/kgan-run",), None, "/proc/kgan-run"),
        "read-only": (
            (read_only / "run",), f"makedirs:EROFS:{read_only}",
            "(Read-only file system)",
        ),
    }  # fmt: skip
    runs = {
        name: start_mnist("--out", *out, "--steps", 2, fault=fault)
        for name, (out, fault, _) in cases.items()
    }
    for name, process in runs.items():
        result = finish(process)
        line = one_line_error(result, 2)
        assert line.startswith("error: cannot write the run folder --out ")
        assert cases[name][2] in line, (name, line)
        assert "MNIST:" not in result[1]  # before the data and the models
    assert a_file.read_text() == "mine" and not read_only.exists()


# -- a full disk ----------------------------------------------------------
def _file_size_limit(limit):
    def set_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return set_limit


def test_a_full_disk_ends_in_one_line_and_the_run_resumes(tmp_path):
    """The disk fills after two checkpoints (the file system refuses the
    third's space); then, as a file-size limit, before any checkpoint."""
    out, small = tmp_path / "run", tmp_path / "small"
    full = start_mnist(
        "--out", out, *TINY, "--steps", 8, fault="allocate:ENOSPC:3"
    )
    # A file-size limit the first checkpoint exceeds (HDF5 never starts).
    limited = start_mnist(
        "--out", small, *TINY, "--steps", 4,
        preexec_fn=_file_size_limit(200_000),
    )  # fmt: skip
    line = one_line_error(finish(full), 1)
    assert line.startswith(
        f"error: could not write {out / 'checkpoint'}/step_000000006."
        "weights.h5: No space left on device; it needs about "
    )
    assert line.endswith(
        "free there; the last good checkpoint is step 4 "
        f"({out / 'checkpoint' / 'step_000000004.weights.h5'}): free some "
        "space (or raise the limit), then run the same command with "
        "--resume."
    )
    assert leftovers(out) == [] and checkpoint_step(out) == 4
    assert steps_in_history(out) == [2, 4]  # the row waits for its commit
    line = one_line_error(finish(limited), 1)
    assert "step_000000002.weights.h5: File too large" in line
    assert "no checkpoint was written yet" in line
    assert leftovers(small) == []
    assert not (small / "checkpoint" / "checkpoint.json").exists()
    # Space again: the run continues from step 4, each step logged once.
    stdout = ok(run_mnist("--out", out, "--resume"))
    assert "at step 4" in stdout
    assert steps_in_history(out) == [2, 4, 6, 8] and checkpoint_step(out) == 8


@pytest.mark.parametrize(
    "name", ["samples_000004", "history.csv", "generator.keras", "metrics"]
)
def test_any_write_that_fails_is_one_line_naming_the_file(tmp_path, name):
    out = tmp_path / "run"
    result = run_mnist(
        "--out", out, *TINY, "--steps", 4, fault=f"open:ENOSPC:{name}"
    )
    line = one_line_error(result, 1)
    assert f"error: could not write {out}" in line and name in line
    assert "No space left on device" in line
    if (out / "checkpoint" / "checkpoint.json").exists():
        step = checkpoint_step(out)
        assert f"the last good checkpoint is step {step} " in line
        assert line.endswith("then run the same command with --resume.")
    else:  # CSVLogger opens its file as training begins
        assert line.endswith(
            "no checkpoint was written yet: free some "
            "space (or raise the limit), then start again."
        )
    assert leftovers(out) == []
    if name not in ("generator.keras", "metrics"):
        return  # resuming after a failed checkpoint: the test above
    # What the failure left undone is done by the same command resumed.
    ok(run_mnist("--out", out, *TINY, "--steps", 4, "--resume"))
    assert steps_in_history(out) == [2, 4] and checkpoint_step(out) == 4
    assert (out / "generator.keras").exists()
    assert (out / "metrics.json").exists()
