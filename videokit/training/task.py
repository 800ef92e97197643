"""What a training task is, and which task trains a model.

A task owns everything that depends on what a model does: the data it
learns from, how it is built and compiled, what it saves after each epoch,
the pictures drawn at the end, and how a finished run is used. Training
(``videokit.training.loop``) and the run directory know nothing else about
models. Adding a task means one module with a ``Task`` subclass and one line
in ``_TASK_CLASSES``.
"""

import dataclasses
import importlib
import pathlib

import keras
import numpy as np

from videokit import registry
from videokit.data.datasets import SYNTHETIC_DATASETS, synthetic_dataset

_TASK_CLASSES = {  # registry task -> (module, class)
    "classifier": ("videokit.training.classification", "ClassifierTask"),
    "predictor": ("videokit.training.prediction", "PredictorTask"),
    "generator": ("videokit.training.generation", "GeneratorTask"),
    "pretraining": ("videokit.training.pretraining", "PretrainingTask"),
}


def task_for(config):
    """The ``Task`` that trains ``config.model``, as the registry says."""
    kind = registry.get_model(config.model).task
    if kind not in _TASK_CLASSES:
        raise ValueError(f"{config.model} is a {kind} model, which videokit train cannot train yet.")
    module, name = _TASK_CLASSES[kind]
    return getattr(importlib.import_module(module), name)(config)


@dataclasses.dataclass
class Data:
    """Training and validation inputs for ``fit``, and what they are."""

    train: object
    validation: object
    class_names: tuple = ()
    train_targets: object = None
    validation_targets: object = None
    train_size: int = None  # training clips in ``train`` when it is a loader


class Task:
    """One kind of training. Subclasses fill in the parts marked "Subclasses".

    Args:
        config: the run's ``RunConfig``.
    """

    name = None
    monitor = "val_loss"  # the score a lower value of which is better
    checkpoint = "last.keras"  # the resumable checkpoint; it carries the run state
    keeps_best = True  # keep best.keras, the checkpoint of the best epoch
    output_files = ()  # what else the task writes into the run directory
    cluster = None  # the ``videokit.cluster.Cluster`` of a multi-worker run, set by ``train``

    def __init__(self, config):
        self.config = config
        self.model_entry = registry.get_model(config.model)

    # === Data ===

    @property
    def synthetic(self):
        """The synthetic dataset the run trains on, or ``None`` for a folder of videos."""
        return synthetic_dataset(self.config.data) if self.config.data in SYNTHETIC_DATASETS else None

    @property
    def channels(self):
        from videokit.data import VideoFolder

        return self.synthetic.channels if self.synthetic else VideoFolder.channels

    @property
    def input_shape(self):
        return (*self.config.clip, self.channels)

    def load_data(self, batch_size):
        """Subclasses: the ``Data`` to train on, ``batch_size`` clips a batch for loaders."""
        raise NotImplementedError

    def synthetic_videos(self, num_frames):
        """``samples`` synthetic videos of ``num_frames`` at the clip's size, and their labels."""
        frames, height, width = self.config.clip
        if height != width:
            raise ValueError(f"{self.config.data} makes square frames; got clip {self.config.clip}, use e.g. "
                             f"{frames}x{height}x{height}.")
        return self.synthetic.videos(self.config.samples, num_frames, height, self.config.seed)

    def split_point(self, count):
        return max(1, min(count - 1, int(round(count * (1 - self.config.validation_fraction)))))

    # === Model ===

    def build(self, data):
        """Subclasses: the compiled model, built from the registry entry."""
        raise NotImplementedError

    def builder_kwargs(self):
        return {"preset": self.config.preset}

    def jit(self):
        return True if self.config.jit else "auto"

    def save_checkpoint(self, model, path):
        model.save(path)

    def restore(self, run_dir, data):
        """The model as the checkpoint left it, optimizer state included."""
        from videokit.training import run_dir as runs

        return runs.load_checkpoint(pathlib.Path(run_dir) / self.checkpoint, self.load_model)

    def load_model(self, path):
        """``keras.models.load_model(path)``, the model's module imported first (it registers its classes)."""
        self.model_entry.build_function()
        return keras.models.load_model(path)

    def optimizer_steps(self, model):
        return int(keras.ops.convert_to_numpy(model.optimizer.iterations))

    def outputs_after_epoch(self):
        """``(name, save(model, run_dir, state))`` steps run after each epoch's checkpoint."""
        return ()

    def random_targets(self, model, batch_size, rng):
        """Targets for timing training steps on random clips (``videokit bench``)."""
        return rng.random((batch_size, *model.output_shape[1:]), dtype=np.float32)

    def fit(self, model, data, batch_size, **fit_arguments):
        if data.train_targets is None and data.validation is None:
            return model.fit(data.train, batch_size=batch_size, shuffle=True, **fit_arguments)
        if data.train_targets is None:  # loaders, which shuffle themselves
            validation = data.validation if data.validation_targets is None else (data.validation,
                                                                                    data.validation_targets)
            return model.fit(data.train, validation_data=validation, shuffle=False, **fit_arguments)
        return model.fit(data.train, data.train_targets, validation_data=(data.validation, data.validation_targets),
                         batch_size=batch_size, shuffle=True, **fit_arguments)

    # === Using a finished run ===

    def trained_model(self, run_dir):
        """The model a finished run is used with (by default ``best.keras``)."""
        from videokit.training import run_dir as runs

        checkpoint = pathlib.Path(run_dir) / runs.BEST
        if not checkpoint.exists():
            raise ValueError(f"{run_dir}: no finished epoch yet ({runs.BEST} not found).")
        return runs.load_checkpoint(checkpoint, self.load_model)

    def draw_results(self, model, data, run_dir):
        """Subclasses: the pictures of a finished run."""

    def predict_video(self, model, clip, path, run_dir, *, top_k, steps, output):
        """Subclasses: use the model on one video's clip (float32 in [0, 1])."""
        raise ValueError(f"{run_dir} holds a {self.name}; predict works on classifiers and next-frame predictors.")

    def clip_from_video(self, path):
        """The clip the model takes, read from a video file."""
        from videokit import io

        frames, height, width = self.config.clip
        clip = io.read_video(path, num_frames=frames, size=(height, width), sampling="uniform")
        clip = clip.astype("float32") / 255.0
        return clip.mean(axis=-1, keepdims=True) if self.channels == 1 else clip


def even_frames(clip):
    """Pad a clip to even height and width, which H.264 needs."""
    height, width = clip.shape[1:3]
    return np.pad(clip, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
