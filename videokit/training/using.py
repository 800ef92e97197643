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


@dataclasses.dataclass(frozen=True)
class StreamedFrame:
    """One frame of `stream_video`: the top class after it and how long the step took.

    Attributes:
        index: the frame's number, from 0.
        class_name: the top class after this frame.
        probability: its probability.
        latency_ms: the model's step on this frame, in milliseconds (decoding not included).
    """

    index: int
    class_name: str
    probability: float
    latency_ms: float


def stream_video(run_dir, source):
    """Classify a video file or a camera frame by frame with a causal classifier run.

    Each decoded frame is resized to the run's clip size and pushed through
    `videokit.models.stream`; the answer after frame ``t`` is the model's on
    frames ``0..t``, computed from that one frame and the layers' buffers.

    Args:
        run_dir: a run of a causal classifier (``causal_c3d``).
        source: a video file, or a camera device such as ``/dev/video0``.

    Yields:
        A `StreamedFrame` per frame.

    Raises:
        ValueError: the run is not a classifier, or its model cannot stream
            (one line naming the registered causal classifiers); the source
            cannot be read (`videokit.io.VideoReadError`).
    """
    import json
    import time

    import numpy as np

    from videokit import io, registry
    from videokit.models.streaming import CAUSAL_CLASSIFIERS, stream

    config, model = load_run(run_dir)
    task = registry.get_model(config.model).task
    if task != "classifier":
        raise ValueError(f"{run_dir}: predict --stream takes classifier runs; {config.model} is a {task}.")
    try:
        live = stream(model)
    except ValueError:
        raise ValueError(
            f"{run_dir}: predict --stream needs a causal model and {config.model} is not one (it looks at later "
            f"frames); the registered causal classifiers are: {', '.join(CAUSAL_CLASSIFIERS)}."
        ) from None
    class_names = json.loads((pathlib.Path(run_dir) / "classes.json").read_text())
    channels = model.input_shape[-1]
    live.step(np.zeros((1, *model.input_shape[2:]), "float32"))  # warm-up (tracing) before the first timing
    live.reset()
    _, height, width = config.clip
    for index, frame in enumerate(io.iter_frames(source, size=(height, width))):
        frame = frame.astype("float32") / 255.0
        if channels == 1:
            frame = frame.mean(axis=-1, keepdims=True)
        started = time.perf_counter()
        probabilities = live.step(frame[None])[0]
        latency = (time.perf_counter() - started) * 1e3
        best = int(np.argmax(probabilities))
        yield StreamedFrame(index, class_names[best], float(probabilities[best]), latency)
