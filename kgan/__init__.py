"""kgan: GAN layers, builders and trainers for Keras 3.

Importing kgan registers every kgan layer, loss and trainer with Keras'
serialization, so a model saved by kgan loads with
`keras.models.load_model(path)` in the default safe mode.
"""

__version__ = "0.1.0"

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
