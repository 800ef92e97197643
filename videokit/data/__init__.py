"""Clip datasets: synthetic sets made on the spot, and folders of real videos.

* ``moving_shapes`` and ``moving_digits`` generate seeded synthetic clips.
* ``VideoFolder`` reads UCF101/HMDB51-style folders and feeds Keras through a
  ``keras.utils.PyDataset`` (any backend) or ``as_tf_dataset()`` (tf.data);
  ``official_split`` makes the training and test sets of their official splits.
"""

import importlib

from videokit.data.synthetic import SHAPE_CLASSES, moving_digits, moving_shapes

_LAZY = {"VideoFolder": "folder", "official_split": "folder", "ClipSequence": "sequence"}

__all__ = ["SHAPE_CLASSES", "moving_digits", "moving_shapes", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"videokit.data.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'videokit.data' has no attribute {name!r}")
