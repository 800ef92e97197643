"""videokit: a Keras 3 teaching toolkit for video deep learning.

Submodules are imported on first use, so ``import videokit`` is cheap and
does not import TensorFlow:

* ``videokit.io`` reads, probes and writes real video files (PyAV).
* ``videokit.data`` makes synthetic clip datasets and reads video folders.
* ``videokit.viz`` draws frame grids, animations and training curves.
* ``videokit.layers`` and ``videokit.models`` hold the video layers and models;
  ``videokit.registry`` names every model with its task and presets.
* ``videokit.training`` trains, resumes, evaluates and uses runs.
* ``videokit.explain`` asks what a classifier looks at (Grad-CAM, temporal
  occlusion) and whether it uses motion (accuracy on shuffled, reversed and
  frozen clips).
"""

from videokit._lazy import lazy_attributes

__version__ = "0.1.0"

_SUBMODULES = ("cli", "data", "explain", "io", "layers", "models", "registry", "training", "viz")

__getattr__, __dir__ = lazy_attributes(__name__, {name: name for name in _SUBMODULES})
