"""What kgan's input pipelines say when the data is not usable, or odd."""

import logging

logger = logging.getLogger("kgan.data")


class DataError(ValueError):
    """The data a pipeline was pointed at cannot be used.

    Raised at once, before any training starts, for a missing path, a path
    that is a file where a folder is expected, a folder without images, or a
    data file of the wrong format. The message names the path and says what
    was expected. It subclasses `ValueError`, so code that already catches
    bad arguments catches it too.
    """


def warn_if_batch_exceeds_data(batch_size, count, what):
    """Warns when one batch needs more images than the data set holds.

    A repeating pipeline still runs, but every batch then holds the same
    images more than once, which D sees as duplicated real samples.
    """
    if batch_size > count:
        logger.warning(
            "the batch (%d images) is larger than the data set (%d %s): "
            "every batch repeats images; use a batch of at most %d or more "
            "data",
            batch_size,
            count,
            what,
            count,
        )
