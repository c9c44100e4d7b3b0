"""Models saved by earlier releases load and compute the same outputs.

tests/data/saved_models/<release>/ holds small generators of every layer
family (CBN, SELF-MOD BN, AdaIN, equalised dense/conv, self-attention,
progressive blocks) saved by that release's code with
tools/save_release_models.py, and their inference outputs. A refactor that
renames a weight, drops a config key or changes the arithmetic fails here.
"""

import pathlib

import keras
import numpy as np
import pytest

import kgan  # noqa: F401  (registers the kgan layers)

pytestmark = pytest.mark.jax

DATA = pathlib.Path(__file__).parent / "data" / "saved_models"
SAVED = sorted(
    (release.name, path.stem)
    for release in DATA.iterdir()
    for path in release.glob("*.keras")
)


def test_there_are_saved_models_to_check():
    assert len(SAVED) >= 5


@pytest.mark.parametrize("release,name", SAVED)
def test_saved_model_loads_in_safe_mode_with_the_same_outputs(release, name):
    folder = DATA / release
    arrays = np.load(folder / "outputs.npz")
    model = keras.saving.load_model(folder / f"{name}.keras")
    inputs = arrays["z"]
    if len(model.inputs) == 2:
        inputs = [arrays["z"], arrays["labels"]]
    outputs = keras.ops.convert_to_numpy(model(inputs, training=False))
    np.testing.assert_allclose(outputs, arrays[name], rtol=1e-4, atol=1e-5)
