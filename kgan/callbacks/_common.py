"""The step counter the kgan callbacks share."""

import keras


def training_step(model):
    """Optimizer steps done so far, as an int.

    A kgan trainer counts them itself (`current_step()`, which knows the
    alternating trainer's two optimizers); any other model uses its
    optimizer's `iterations`.
    """
    if hasattr(model, "current_step"):
        step = model.current_step()
    else:
        step = model.optimizer.iterations
    return int(keras.ops.convert_to_numpy(step))
