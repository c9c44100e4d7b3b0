"""kgan: GAN layers, builders and trainers for Keras 3.

Importing kgan registers every kgan layer, loss and trainer with Keras'
serialization, so a model saved by kgan loads with
`keras.models.load_model(path)` in the default safe mode.
"""

__version__ = "0.1.0"

from kgan import _environment, _quiet  # noqa: E402

_environment.check_before_keras()

if _quiet.requested():
    _quiet.set_log_level(no_gpu=_environment.no_nvidia_device())
    _loading = _quiet.start_up_lines_filtered()
else:
    import contextlib  # noqa: E402

    _loading = contextlib.nullcontext()

with _loading:
    import keras  # noqa: E402

    _environment.check_keras(keras.__version__, keras.backend.backend())

    from kgan import (  # noqa: E402,F401
        callbacks,
        data,
        distribution,
        layers,
        losses,
        metrics,
        models,
        recipes,
        training,
    )
    from kgan.sampling import sample, truncated_normal  # noqa: E402,F401

UnsupportedEnvironment = _environment.UnsupportedEnvironment
del _loading
