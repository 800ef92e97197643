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


def evaluate(run_dir, data=None, output=None, *, clips=1, crops=1, average="probabilities", predictions=None,
             overwrite=False, progress=True):
    """Accuracy, a per-class report and a confusion matrix of a classifier run.

    On a folder of videos every video is scored from ``clips`` x ``crops``
    views (``videokit.training.views``), decoded once, with their
    predictions averaged: the video-level accuracy the papers report, beside
    the clip-level accuracy of each view alone. One clip and one crop is the
    centred clip validation uses. The per-video predictions go to a CSV file.

    Args:
        run_dir: a finished classifier run.
        data: evaluate on this data (a folder or synthetic set) instead of the
            run's validation split.
        output: folder for ``confusion.png`` and the predictions (default:
            the run directory).
        clips: clips per video, spread evenly over it (folders only).
        crops: 1 (centre) or 3 (along the longer side; folders only).
        average: ``"probabilities"`` or ``"logits"``: what is averaged.
        predictions: the CSV file for per-video predictions (default:
            ``predictions-<clips>x<crops>.csv`` in ``output``).
        overwrite: replace that CSV file if it exists.
        progress: a progress bar over the videos.

    Returns:
        A dict with ``accuracy`` (video-level), ``per_class`` (rows of
        precision, recall, support), ``confusion`` (the matrix as lists) and
        ``plot``; on a folder also ``video_accuracy``, ``clip_accuracy``,
        ``videos``, ``views``, ``forward_passes``, ``gflops_per_view`` and
        ``predictions_csv``.
    """
    from videokit.training import views

    views.check_views(clips, crops, average)
    config, model = load_run(run_dir)
    task = task_for(config)
    if not hasattr(task, "evaluate"):
        raise ValueError(f"{run_dir} holds a {config.model} {task.name}; evaluate works on classifiers.")
    if data is not None:
        config = dataclasses.replace(config, data=data, split_file=None, cache=None)
        task = task_for(config)
    output = pathlib.Path(output or run_dir)
    with reraise_video_errors():
        if task.synthetic is None:
            path = pathlib.Path(predictions) if predictions else views.predictions_path(output, clips, crops)
            return task.evaluate_views(model, output, clips=clips, crops=crops, average=average, path=path,
                                       overwrite=overwrite, progress=progress)
        if (clips, crops) != (1, 1):
            raise ValueError(f"{config.data} clips are exactly one clip long: several clips or crops need a folder "
                             f"of videos; got clips={clips}, crops={crops}.")
        return task.evaluate(model, task.load_data(config.batch_size), output)


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
