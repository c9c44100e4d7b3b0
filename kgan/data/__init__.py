"""Input pipelines: folders of images and real MNIST, offline.

`image_folder` turns a folder of images into batches in [-1, 1] for `fit`;
`scan_image_folder` lists (and validates) the images it would read;
`load_mnist` and `mnist_dataset` give real MNIST digits without a download.
Problems with the data raise `DataError` at once, before training starts.
"""

from kgan.data.errors import DataError
from kgan.data.image_folder import CELEBA_BOX, CELEBA_IMAGE_SIZE, image_folder
from kgan.data.mnist import load_mnist, mnist_dataset
from kgan.data.scan import IMAGE_EXTENSIONS, scan_image_folder

__all__ = [
    "CELEBA_BOX",
    "CELEBA_IMAGE_SIZE",
    "DataError",
    "IMAGE_EXTENSIONS",
    "image_folder",
    "load_mnist",
    "mnist_dataset",
    "scan_image_folder",
]
