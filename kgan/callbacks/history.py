"""Training history: the step in the logs, and a PNG of the curves."""

import csv
import logging
import math
import os

import keras

from kgan._checks import positive_int
from kgan._files import atomic_path
from kgan.callbacks._common import training_step
from kgan.distribution import is_chief

logger = logging.getLogger("kgan.callbacks")


class LogStep(keras.callbacks.Callback):
    """Adds `step` (optimizer steps done) to the epoch logs.

    Put it before `CSVLogger`: each CSV row then says at which step it was
    written, which the epoch number does not once a run has been resumed
    mid-epoch.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["step"] = training_step(self.model)


class LossPlot(keras.callbacks.Callback):
    """Plots every logged metric against the step into one PNG.

    With `csv_path` (the file of a `CSVLogger` placed before this callback)
    the curves are read from the CSV, so they include the epochs of earlier,
    resumed runs; rows repeated by a resume keep their last value. Without
    it, the epochs of this `fit` are plotted. The x axis is the `step`
    column of `LogStep` when logged, else the epoch.

    matplotlib is imported on first use, drawing on an Agg canvas of its own
    (no `pyplot`, so a notebook's backend is left alone). Without matplotlib
    the callback logs one warning and does nothing.

    Args:
        path: the PNG file.
        csv_path: optional CSV history to read the curves from.
        keys: metrics to plot; default every logged one.
        every_n_epochs: redraw interval.
    """

    def __init__(self, path, csv_path=None, keys=None, every_n_epochs=1):
        super().__init__()
        self.path = path
        self.csv_path = csv_path
        self.keys = list(keys) if keys else None
        self.every_n_epochs = positive_int("every_n_epochs", every_n_epochs)
        self.series = {}
        self._rows = []
        self._disabled = False

    def on_train_begin(self, logs=None):
        self._rows = []

    def on_epoch_end(self, epoch, logs=None):
        self._rows.append(_numbers({"epoch": epoch, **(logs or {})}))
        if (epoch + 1) % self.every_n_epochs == 0:
            self.plot()

    def on_train_end(self, logs=None):
        if self._rows:
            self.plot()

    def rows(self):
        """The history to plot: one dict per epoch, sorted by x."""
        rows = self._rows
        if self.csv_path is not None and os.path.exists(self.csv_path):
            with open(self.csv_path, newline="") as f:
                rows = [_numbers(row) for row in csv.DictReader(f)]
        by_x = {}
        for row in rows:
            x = row.get("step")
            by_x[row["epoch"] + 1 if x is None else x] = row
        return [by_x[x] | {"x": x} for x in sorted(by_x)]

    def plot(self):
        """Redraws the PNG; returns its path, or None without matplotlib."""
        if self._disabled or not is_chief():
            return None
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            self._disabled = True
            logger.warning("LossPlot needs matplotlib; no plot is written.")
            return None
        rows = self.rows()
        skip = {"epoch", "step", "x"}
        keys = self.keys or sorted({k for r in rows for k in r} - skip)
        self.series = {
            k: (
                [r["x"] for r in rows if k in r],
                [r[k] for r in rows if k in r],
            )
            for k in keys
        }
        figure = Figure(figsize=(6, 1.6 * max(1, len(keys))), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.subplots(max(1, len(keys)), 1, sharex=True, squeeze=0)
        for ax, key in zip(axes[:, 0], keys):
            ax.plot(*self.series[key], marker="." if len(rows) < 30 else "")
            ax.set_ylabel(key)
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel(
            "step" if rows and "step" in rows[0] else "epoch"
        )
        figure.tight_layout()
        with atomic_path(self.path) as tmp:
            figure.savefig(tmp, format="png")
        return self.path


def _numbers(row):
    """The numeric entries of a log or CSV row (CSVLogger writes "NA" for
    the validation columns a GAN never has)."""
    numbers = {}
    for key, value in row.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        if value.is_integer() and math.isfinite(value):
            value = int(value)
        numbers[key] = value
    return numbers
