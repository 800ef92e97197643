"""Multi-view evaluation: several clips x crops of every video, their predictions averaged.

Papers report video-level accuracy: each test video is cut into ``clips``
temporal clips times ``crops`` spatial crops ("10 clips x 3 crops" = 30
views), the model scores every view, and the video's prediction is the
average. ``evaluate_views`` does that on a ``VideoFolder`` (each video
decoded once, all its views cut from the decoded frames), and reports the
clip-level accuracy (each view scored alone) beside the video-level one, with
the compute it took.
"""

import csv
import pathlib

import numpy as np
from tqdm import tqdm

from videokit._files import atomic_path

AVERAGES = ("probabilities", "logits")


def check_views(clips, crops, average):
    """Raise the one ``ValueError`` for views the evaluation cannot take."""
    if isinstance(clips, bool) or not isinstance(clips, (int, np.integer)) or clips < 1:
        raise ValueError(f"clips must be a positive integer; got {clips!r}.")
    if crops not in (1, 3):
        raise ValueError(f"crops must be 1 (the centre) or 3 (along the longer side); got {crops!r}.")
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {', '.join(AVERAGES)}; got {average!r}.")


def predictions_path(folder, clips, crops):
    """Where the per-video predictions go by default: ``predictions-<clips>x<crops>.csv`` in ``folder``."""
    return pathlib.Path(folder) / f"predictions-{clips}x{crops}.csv"


def average_views(probabilities, average):
    """One video's class probabilities from those of its views ``(views, classes)``.

    ``"probabilities"`` averages the softmax outputs. ``"logits"`` averages
    the log-probabilities, which differ from the logits by one constant per
    view, so their softmax is that of the averaged logits.
    """
    if average == "probabilities":
        return probabilities.mean(axis=0)
    log_mean = np.log(np.maximum(probabilities, np.finfo(np.float32).tiny)).mean(axis=0)
    exponentials = np.exp(log_mean - log_mean.max())
    return exponentials / exponentials.sum()


def evaluate_views(
    model,
    folder,
    *,
    clips=1,
    crops=1,
    average="probabilities",
    batch_size=16,
    path=None,
    overwrite=False,
    progress=True,
):
    """Video-level and clip-level accuracy of a classifier on a ``VideoFolder``'s videos.

    Args:
        model: a classifier ending in a softmax.
        folder: an evaluation ``VideoFolder`` (``training=False``).
        clips: clips per video (``"dense"``: starts spread evenly over it).
        crops: 1 (the centre) or 3 (along the longer side of the frame).
        average: ``"probabilities"`` or ``"logits"``.
        batch_size: views per forward pass.
        path: the CSV file for the per-video predictions, or ``None`` for
            none.
        overwrite: replace ``path`` if it exists.
        progress: a progress bar over the videos.

    Returns:
        A dict: ``labels`` and ``predictions`` (one per video),
        ``video_accuracy``, ``clip_accuracy``, ``videos``, ``views``
        (per video), ``forward_passes`` (views scored in all), ``gflops_per_view``
        (``None`` when the layers cannot be counted) and ``predictions_csv``.
    """
    check_views(clips, crops, average)
    if path is not None and pathlib.Path(path).exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists; pass --overwrite (overwrite=True) to replace it, "
                              "or --predictions (predictions=) for another file.")
    folder.prepare(progress=progress)
    rows, labels, predictions, view_hits = [], [], [], 0
    for index in tqdm(range(len(folder)), unit="video", desc="evaluating", disable=not progress):
        views, label = folder.views(index, clips=clips, crops=crops)
        probabilities = np.concatenate(
            [
                np.asarray(model.predict_on_batch(views[start : start + batch_size]))
                for start in range(0, len(views), batch_size)
            ]
        )
        video = average_views(probabilities.astype(np.float64), average)
        view_hits += int(np.sum(np.argmax(probabilities, axis=-1) == label))
        labels.append(label)
        predictions.append(int(np.argmax(video)))
        rows.append((folder._name(folder.samples[index][0]), label, predictions[-1], video))
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if path is not None:
        _write_csv(path, rows, folder.class_names)
    return {
        "labels": labels,
        "predictions": predictions,
        "videos": len(labels),
        "video_accuracy": float(np.mean(labels == predictions)),
        "clip_accuracy": view_hits / (len(labels) * clips * crops),
        "views": clips * crops,
        "forward_passes": len(labels) * clips * crops,
        "gflops_per_view": _gflops(model),
        "predictions_csv": str(path) if path is not None else None,
    }


def _write_csv(path, rows, class_names):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["video", "label", "predicted", "correct", *(f"p_{name}" for name in class_names)])
        for video, label, predicted, probabilities in rows:
            writer.writerow(
                [
                    video,
                    class_names[label],
                    class_names[predicted],
                    int(label == predicted),
                    *(f"{p:.6f}" for p in probabilities),
                ]
            )


def _gflops(model):
    """Forward FLOPs of one view (2 x the multiply-adds ``videokit.benchmark.count_macs`` finds), or ``None``."""
    from videokit.benchmark import count_macs

    try:
        return 2 * count_macs(model) / 1e9
    except (AttributeError, TypeError, ValueError):
        return None
