"""Using a finished run: load it, evaluate it, predict with it."""

import dataclasses
import pathlib

from videokit.config import RunConfig
from videokit.data import reraise_video_errors
from videokit.training.task import task_for


def load_run(run_dir):
    """The ``RunConfig`` and trained model of a run (``best.keras``; ``generator.keras`` for GANs)."""
    config = _saved_config(run_dir)
    return config, task_for(config).trained_model(run_dir)


def _saved_config(run_dir):
    path = pathlib.Path(run_dir) / "config.json"
    if not path.exists():
        raise ValueError(f"{run_dir}: not a videokit run directory (config.json not found).")
    try:
        return RunConfig.from_json(path.read_text())
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: damaged ({str(error).splitlines()[0]}).") from None


def build_model(config, num_classes=None):
    """Build and compile the model a run config names (``num_classes`` for classifiers)."""
    from videokit.training.task import Data

    return task_for(config).build(Data(None, None, tuple(range(num_classes or 0))))


def evaluate(run_dir, data=None, output=None):
    """Accuracy, a per-class report and a confusion matrix of a classifier run.

    Args:
        run_dir: a finished classifier run.
        data: evaluate on this data (a folder or synthetic set) instead of the
            run's validation split.
        output: folder for ``confusion.png`` (default: the run directory).

    Returns:
        A dict with ``accuracy``, ``per_class`` (rows of precision, recall,
        support), ``confusion`` (the matrix as lists) and ``plot``.
    """
    config, model = load_run(run_dir)
    task = task_for(config)
    if not hasattr(task, "evaluate"):
        raise ValueError(f"{run_dir} holds a {config.model} {task.name}; evaluate works on classifiers.")
    if data is not None:
        config = dataclasses.replace(config, data=data, split_file=None, cache=None)
        task = task_for(config)
    with reraise_video_errors():
        return task.evaluate(model, task.load_data(config.batch_size), output or run_dir)


def predict_videos(run_dir, paths, *, top_k=3, steps=8, output=None):
    """Use a run on real video files.

    A classifier returns the ``top_k`` classes with their probabilities for
    each file. A next-frame predictor reads the clip's frames as context,
    rolls out ``steps`` frames and writes them to ``output`` (a folder) as
    ``<name>.predicted.mp4``.

    Returns:
        A list with one entry per file: ``[(class, probability), ...]`` or the
        path of the written prediction.
    """
    config, model = load_run(run_dir)
    task = task_for(config)
    return [task.predict_video(model, task.clip_from_video(path), path, run_dir, top_k=top_k, steps=steps,
                               output=output) for path in paths]
