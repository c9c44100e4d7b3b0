"""What a checkpoint folder holds: the committed `checkpoint.json`, the
weights files it names (rebuilt from them when it is damaged), and the
housekeeping of a save (the space it needs, the old files it drops)."""

import contextlib
import json
import os
import re

import numpy as np

METADATA = "checkpoint.json"
STEP_FILE = re.compile(r"step_(\d{9})\.weights\.h5")


class CheckpointFiles:
    """The disk side of `Checkpoint` (a mixin): reads `backup_dir`,
    `metadata_path`, `verbose` and, for the sizes, `model`."""

    def read_metadata(self):
        """The committed `checkpoint.json` as a dict, or None without one.

        A damaged file (cut short, edited, emptied) is rebuilt from the
        weights files in the folder, newest first, so that a checkpoint is
        never mistaken for none: a run would then start over on top of it.
        """
        try:
            with open(self.metadata_path) as f:
                metadata = json.load(f)
            if isinstance(metadata, dict) and STEP_FILE.fullmatch(
                str(metadata.get("weights"))
            ):
                int(metadata["step"])
                return metadata
        except FileNotFoundError:
            return self._rebuilt_metadata(damaged=False)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return self._rebuilt_metadata(damaged=True)

    def _rebuilt_metadata(self, damaged):
        try:
            names = os.listdir(self.backup_dir)
        except OSError:
            names = []
        found = sorted(
            (n for n in names if STEP_FILE.fullmatch(n)), reverse=True
        )
        if not found:
            return None
        # Weights without metadata: a kill between the two writes of a
        # first save, or a damaged checkpoint.json. Both name their step.
        if self.verbose and not self._said_rebuilt:
            what = "is damaged" if damaged else "is missing"
            print(
                f"kgan: {self.metadata_path} {what}; using the weights "
                f"files in {self.backup_dir} instead (newest: {found[0]})"
            )
            self._said_rebuilt = True
        return {
            "step": int(STEP_FILE.fullmatch(found[0]).group(1)),
            "weights": found[0],
            "previous": found[1:],
        }

    def latest(self):
        """`(path, step)` of the committed checkpoint, or None."""
        metadata = self.read_metadata()
        if metadata is None:
            return None
        return os.path.join(self.backup_dir, metadata["weights"]), int(
            metadata["step"]
        )

    def describe(self):
        """`"PATH (step N)"` for messages; None before the first save."""
        latest = self.latest()
        return None if latest is None else f"{latest[0]} (step {latest[1]})"

    def last_good(self):
        """`describe()`, or words saying that there is none yet."""
        return self.describe() or (
            f"not written yet (none in {self.backup_dir})"
        )

    def _expected_size(self, metadata):
        """Bytes the next weights file needs: a little over the last one's,
        else twice the state's own size (HDF5's overhead, EMA copies)."""
        if metadata:
            with contextlib.suppress(OSError):
                last = os.path.join(self.backup_dir, metadata["weights"])
                return int(os.path.getsize(last) * 1.05) + (64 << 10)
        variables = list(self.model.variables)
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            variables += list(optimizer.variables)
        state = sum(
            int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize
            for v in variables
        )
        return 2 * state + (1 << 20)

    def _prune(self, kept):
        # Temporary files left by a killed save go too: the only write in
        # flight is this callback's own, and it has been renamed by now.
        for name in os.listdir(self.backup_dir):
            if name.startswith(".tmp-") or (
                name.endswith(".weights.h5") and name not in kept
            ):
                os.remove(os.path.join(self.backup_dir, name))
