"""videokit: a Keras 3 teaching toolkit for video deep learning.

Submodules are imported on first use, so ``import videokit`` is cheap and
does not import TensorFlow:

* ``videokit.io`` reads, probes and writes real video files (PyAV).
* ``videokit.data`` makes synthetic clip datasets and reads video folders.
* ``videokit.viz`` draws frame grids, animations and training curves.
* ``videokit.layers`` and ``videokit.models`` hold the video layers and models.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("cli", "data", "io", "layers", "models", "viz")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"videokit.{name}")
    raise AttributeError(f"module 'videokit' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
