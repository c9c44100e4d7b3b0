"""A quiet start: the scripts' first line is kgan's, not TensorFlow's.

TensorFlow writes "I0000 ... oneDNN custom operations are on" and "Could
not find cuda drivers" to the process's stderr while it loads, before its
logging is initialised, so `TF_CPP_MIN_LOG_LEVEL` cannot hide them; and on
a machine without a GPU it logs "failed call to cuInit" as an error at the
first op. A newcomer reads both as failures.

The scripts set `KGAN_QUIET_START=1` before `import kgan` (and
`python -m kgan.<tool>` counts as asking); kgan then
(unless the user set `TF_CPP_MIN_LOG_LEVEL`) sets TensorFlow's C++ log
level (3 where no NVIDIA device exists, so cuInit's error goes; 2 on a GPU
machine, where errors matter), and filters the file descriptor 2 output of
the import itself: the known start-up lines are dropped, anything else
(a real error, a traceback) is written back unchanged.
"""

import contextlib
import os
import re
import sys
import tempfile

ENV = "KGAN_QUIET_START"

# Lines TensorFlow prints while loading that say nothing is wrong.
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} "
    r"|E\d{4} .*(Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered)"
    r"|\d{4}-\d\d-\d\d [\d:.]+: [IWE] \S+ (Unable to register|.*oneDNN"
    r"|.*cpu_feature_guard|TF-TRT Warning|Could not find cuda)"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|.*cpu_feature_guard)"
)


def requested():
    """Asked by a script (`KGAN_QUIET_START=1`) or `python -m kgan.<tool>`.

    Under `-m`, Python imports the package before the module's body runs,
    so a kgan tool cannot set the variable in time: its command line says.
    """
    if os.environ.get(ENV) == "1":
        return True
    argv = list(getattr(sys, "orig_argv", []))
    return any(
        flag == "-m" and module.startswith("kgan.")
        for flag, module in zip(argv, argv[1:])
    )


def set_log_level(no_gpu):
    """TF's C++ log level, unless the user chose one."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if no_gpu else "2")


@contextlib.contextmanager
def start_up_lines_filtered():
    """Drops TensorFlow's start-up lines from fd 2 while the body runs."""
    with tempfile.TemporaryFile(mode="w+b") as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [
                line
                for line in text.splitlines(keepends=True)
                if not _NOISE.match(line)
            ]
            if kept:
                os.write(2, "".join(kept).encode())
