"""kgan: GAN layers, builders and trainers for Keras 3.

Importing kgan registers every kgan layer with Keras' serialization, so a
model saved by kgan loads with `keras.models.load_model(path)` in safe mode.
"""

__version__ = "0.1.0"

from kgan import layers  # noqa: E402,F401
from kgan import models  # noqa: E402,F401
