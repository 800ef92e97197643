"""Pictures of clips and training: frame grids, inline animations, curves, masked reconstructions."""

import base64
import pathlib
import tempfile

import numpy as np


def frame_grid(clips, *, max_frames=8, titles=None, frame_titles=True, cmap=None, scale=1.5, path=None):
    """Draw clips as a grid: one row per clip, one column per frame.

    Args:
        clips: one clip ``(T, H, W, C)`` or a batch ``(N, T, H, W, C)``,
            ``uint8`` or floats in ``[0, 1]`` (``C`` is 1 or 3).
        max_frames: at most this many frames per row, evenly spaced.
        titles: a label per row, shown left of it.
        frame_titles: write the frame index above the first row.
        cmap: colour map for single-channel clips (default ``"gray"``).
        scale: inches per frame.
        path: if given, also save the figure there as a PNG.

    Returns:
        The matplotlib ``Figure``.

    Example:

    >>> videos, labels, names = videokit.data.moving_shapes(4, num_frames=8)  # doctest: +SKIP
    >>> frame_grid(videos, titles=[names[i] for i in labels], path="grid.png")  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    clips = _as_batch(clips)
    frames = np.unique(np.round(np.linspace(0, clips.shape[1] - 1, min(max_frames, clips.shape[1]))).astype(int))
    rows, columns = len(clips), len(frames)
    figure, axes = plt.subplots(rows, columns, figsize=(scale * columns, scale * rows), squeeze=False)
    for row, clip in enumerate(clips):
        for column, frame in enumerate(frames):
            axis = axes[row, column]
            _show(axis, clip[frame], cmap)
            if frame_titles and row == 0:
                axis.set_title(f"t={frame}", fontsize=9)
        if titles is not None:
            axes[row, 0].set_ylabel(str(titles[row]), fontsize=9, rotation=0, ha="right", va="center")
    figure.tight_layout(pad=0.3, h_pad=0.6, w_pad=0.2)
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def animate(clip, *, fps=8, width=256):
    """An animation of a clip that plays inline in JupyterLab and Colab.

    The clip is encoded as a small H.264 MP4 and embedded as an HTML5
    ``<video>`` element, which both JupyterLab and Colab show.

    Args:
        clip: ``(T, H, W, C)``, ``uint8`` or floats in ``[0, 1]``.
        fps: playback frames per second.
        width: displayed width in pixels.

    Returns:
        An ``IPython.display.HTML`` object; display it or leave it as the
        last expression of a cell.
    """
    from IPython.display import HTML

    from videokit import io

    clip = _as_batch(clip)[0]
    clip = _even_sized(clip)
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "clip.mp4"
        io.write_video(path, clip, fps=fps, quality=18)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    return HTML(
        f'<video width="{width}" controls autoplay loop muted playsinline>'
        f'<source src="data:video/mp4;base64,{data}" type="video/mp4"></video>'
    )


def plot_reconstructions(masked_input, reconstruction, original, *, max_frames=8, title=None, path=None):
    """Draw masked autoencoding over time: for each clip, rows masked input / reconstruction / original.

    The rows of one clip share their columns (frames), so a hidden tube can
    be followed from the grey hole, through the model's guess, to the truth.
    For VideoMAE, `videokit.models.VideoMAE.reconstruct` gives the three
    arrays, the predicted tubelets drawn with each tubelet's own mean and
    standard deviation taken from the original.

    Args:
        masked_input: clips ``(N, T, H, W, C)`` in ``[0, 1]``, hidden tubes grey.
        reconstruction: the same clips with the hidden tubes predicted.
        original: the clips themselves.
        max_frames: at most this many frames per row, evenly spaced.
        title: a title above the grid (e.g. the epoch), or ``None``.
        path: if given, also save the figure there as a PNG.

    Returns:
        The matplotlib ``Figure``.

    Example:

    >>> masked, reconstructed, original = mae.reconstruct(clips[:3])  # doctest: +SKIP
    >>> plot_reconstructions(masked, reconstructed, original, path="reconstructions.png")  # doctest: +SKIP
    """
    groups = [_as_batch(clips) for clips in (masked_input, reconstruction, original)]
    if not groups[0].shape == groups[1].shape == groups[2].shape:
        raise ValueError(f"expected three batches of clips of one shape; got shapes {[g.shape for g in groups]}.")
    rows = np.stack(groups, axis=1).reshape(-1, *groups[0].shape[1:])
    names = ["masked", "reconstructed", "original"] * len(groups[0])
    figure = frame_grid(rows, max_frames=max_frames, titles=names)
    if title:
        figure.suptitle(title, fontsize=10)
        figure.tight_layout(pad=0.3, h_pad=0.6, w_pad=0.2, rect=(0, 0, 1, 1 - 0.3 / figure.get_figheight()))
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def plot_history(history, *, metrics=None, path=None):
    """Plot training curves from a Keras ``History`` (or its ``history`` dict).

    Each metric gets one panel with its training and ``val_`` curves.

    Args:
        history: a ``keras.callbacks.History`` or a dict of lists.
        metrics: names to plot; by default every metric without ``val_``.
        path: if given, also save the figure there as a PNG.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    logs = getattr(history, "history", history)
    metrics = metrics or [name for name in logs if not name.startswith("val_")]
    figure, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3), squeeze=False)
    for axis, name in zip(axes[0], metrics):
        epochs = np.arange(1, len(logs[name]) + 1)
        axis.plot(epochs, logs[name], marker="o", label="train")
        if f"val_{name}" in logs:
            axis.plot(epochs, logs[f"val_{name}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.legend()
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def plot_confusion_matrix(labels, predictions, class_names, *, path=None):
    """Plot a confusion matrix (rows: true class, columns: predicted class).

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    count = len(class_names)
    matrix = np.zeros((count, count), dtype=int)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
    figure, axis = plt.subplots(figsize=(0.6 * count + 2, 0.6 * count + 1.5))
    axis.imshow(matrix, cmap="Blues")
    for (row, column), value in np.ndenumerate(matrix):
        colour = "white" if value > matrix.max() / 2 else "black"
        axis.text(column, row, value, ha="center", va="center", color=colour, fontsize=8)
    axis.set_xticks(range(count), class_names, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(count), class_names, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def _as_batch(clips):
    clips = np.asarray(clips)
    if clips.ndim == 4:
        clips = clips[None]
    if clips.ndim != 5 or clips.shape[-1] not in (1, 3):
        raise ValueError(
            f"expected a clip (time, height, width, channels) or a batch of clips with 1 or 3 channels, "
            f"got shape {clips.shape}."
        )
    return clips


def _show(axis, frame, cmap):
    # Nearest-neighbour scaling shows the real pixels (and keeps PNGs of noisy clips small).
    if frame.shape[-1] == 1:
        axis.imshow(frame[..., 0], cmap=cmap or "gray", vmin=0, vmax=255 if frame.dtype == np.uint8 else 1,
                    interpolation="nearest")
    else:
        axis.imshow(frame if frame.dtype == np.uint8 else np.clip(frame, 0, 1), interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])


def _even_sized(clip):
    """Repeat the last row/column so H.264 (4:2:0) gets even sizes."""
    height, width = clip.shape[1:3]
    return np.pad(clip, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
