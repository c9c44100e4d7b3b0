"""Callbacks for GAN training.

Pictures with fixed inputs (`SampleGrid`, O-GAN's `ReconstructionGrid`,
the slerp `InterpolationStrip`), all drawn from the weight EMA when the
trainer keeps one; a `Checkpoint` that survives a kill at any moment and
resumes at the same step; `StopOnNaN`, which watches every loss and
names the last good checkpoint (Keras' own `TerminateOnNaN` watches
`loss` alone); `StopAtStep`; and the history pieces `LogStep` and
`LossPlot`, next to Keras' own `CSVLogger`; TensorBoard summaries at the
trainer's step (`ScalarSummaries`, and the pictures with `tensorboard_dir`).
"""

from kgan.callbacks._common import training_step
from kgan.callbacks.checkpoint import (
    Checkpoint,
    CheckpointError,
    StopAtStep,
)
from kgan.callbacks.history import LogStep, LossPlot
from kgan.callbacks.images import (
    InterpolationStrip,
    ReconstructionGrid,
    SampleGrid,
    image_grid,
    save_image_grid,
    slerp,
)
from kgan.callbacks.nan import StopOnNaN
from kgan.callbacks.progressive import ProgressiveSchedule
from kgan.callbacks.tensorboard import (
    ScalarSummaries,
    write_image,
    write_scalars,
)

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "InterpolationStrip",
    "LogStep",
    "LossPlot",
    "ProgressiveSchedule",
    "ReconstructionGrid",
    "ScalarSummaries",
    "SampleGrid",
    "StopAtStep",
    "StopOnNaN",
    "image_grid",
    "save_image_grid",
    "slerp",
    "training_step",
    "write_image",
    "write_scalars",
]
