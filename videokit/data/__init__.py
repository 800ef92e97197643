"""Clip datasets: synthetic sets made on the spot, and folders of real videos.

* ``moving_shapes``, ``moving_digits`` and ``moving_squares`` generate seeded synthetic clips;
  ``SYNTHETIC_DATASETS`` / ``synthetic_dataset(name)`` say what each one is
  (channels, labelled or not, class names) and generate it.
* ``VideoFolder`` reads UCF101/HMDB51-style folders (``official_split`` makes
  the training and test sets of their official splits) and feeds Keras with
  ``batches()``: tf.data on TensorFlow, a ``keras.utils.PyDataset`` otherwise.

Only the synthetic generators are imported with the package; the rest on
first use.
"""

from videokit._lazy import lazy_attributes
from videokit.data.synthetic import SHAPE_CLASSES, SQUARE_DIRECTIONS, moving_digits, moving_shapes, moving_squares

_LAZY = {
    "SyntheticDataset": "datasets",
    "SYNTHETIC_DATASETS": "datasets",
    "synthetic_dataset": "datasets",
    "VideoFolder": "folder",
    "FrameCache": "frame_cache",
    "official_split": "splits",
    "ClipSequence": "sequence",
    "AugmentedArrays": "sequence",
    "Augmentation": "augmentation",
    "reraise_video_errors": "errors",
}

__all__ = ["SHAPE_CLASSES", "SQUARE_DIRECTIONS", "moving_digits", "moving_shapes", "moving_squares", *_LAZY]

__getattr__, _lazy_dir = lazy_attributes(__name__, _LAZY)


def __dir__():
    return sorted({*globals(), *_lazy_dir()})
