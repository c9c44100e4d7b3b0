"""The error kgan's input pipelines raise when the data is not usable."""


class DataError(ValueError):
    """The data a pipeline was pointed at cannot be used.

    Raised at once, before any training starts, for a missing path, a path
    that is a file where a folder is expected, a folder without images, or a
    data file of the wrong format. The message names the path and says what
    was expected. It subclasses `ValueError`, so code that already catches
    bad arguments catches it too.
    """
