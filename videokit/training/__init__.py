"""Train, resume, evaluate and use video models in a run directory.

* ``train`` (``loop.py``): the fit loop every task shares.
* ``run_dir.py`` and ``checkpoints.py``: what a run writes, in which order,
  and how ``--resume`` reads it back.
* ``task.py``: what a task owns; ``classification.py``, ``prediction.py``
  and ``generation.py``: the classifier, next-frame predictor and GAN tasks.
* ``devices.py``: data parallelism and precision checks.
* ``using.py``: ``load_run``, ``evaluate``, ``predict_videos`` and ``stream_video``.
"""

from videokit.config import MODEL_NAMES, RunConfig, parse_clip, saved_config  # noqa: F401
from videokit.training.classification import predict_labels  # noqa: F401
from videokit.training.devices import device_count, distribution_scope  # noqa: F401
from videokit.training.loop import train  # noqa: F401
from videokit.training.run_dir import read_metrics, read_state  # noqa: F401
from videokit.training.task import task_for  # noqa: F401
from videokit.training.using import build_model, evaluate, load_run, predict_videos, stream_video  # noqa: F401
