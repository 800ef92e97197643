"""One error for an unreadable video on every backend."""

import sys


class reraise_video_errors:  # a context manager, named like contextlib's
    """Around ``fit``, ``evaluate`` or ``predict``: a folder's unreadable video raises its ``VideoReadError``.

    A ``PyDataset`` (JAX, torch) raises the ``VideoReadError`` itself. A
    tf.data pipeline (TensorFlow) can only stop with a TensorFlow error; this
    gives back the ``VideoReadError`` (or the ``ValueError`` of a damaged
    cache file) that it carries, so that every backend says the same line.
    Anything else passes through unchanged.

    Example:

    >>> with reraise_video_errors():  # doctest: +SKIP
    ...     model.fit(train.batches(8, shuffle=True), validation_data=validation.batches(8, shuffle=False))
    """

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        tf_support = sys.modules.get("videokit.tf_support")
        original = tf_support.recorded_failure(error) if error is not None and tf_support else None
        if original is None:
            return False
        raise original.with_traceback(None) from None
