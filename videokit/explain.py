"""What does a video model look at, and does it use motion?

* `motion_probes` measures accuracy on clips whose frames are shuffled,
  reversed or frozen: a model that ignores the order of frames scores the same
  on all of them; a model that reads motion falls to chance on frozen clips.
* `temporal_occlusion` replaces one frame at a time and measures how much the
  class probability drops: which frames matter.
* `grad_cam` weights a convolution layer's feature maps by the gradient of the
  class score (Selvaraju et al. 2017): where (and when) the evidence is.
* `attention_maps` reads a video transformer's last attention: how much the
  class token (or, without one, every token) attends to each patch of each frame.
* `overlay` blends those maps onto the clips for `videokit.viz.frame_grid` or
  `videokit.viz.animate`.

Everything works on the TensorFlow, JAX and PyTorch backends through
`keras.ops`; the one gradient is taken with the backend's own tool
(`videokit._gradients`), imported when it is needed.
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from videokit import _gradients

PROBES = ("original", "shuffled", "reversed", "frozen")


# ------------------------------------------------------------ motion probes


def probe_clips(clips, *, seed=0):
    """The clips of `motion_probes`: original, frames shuffled, reversed, frozen.

    Args:
        clips: a batch ``(N, T, H, W, C)``.
        seed: integer seed of the shuffles; each clip gets its own fixed
            permutation of its frames, never the identity (for ``T >= 2``).

    Returns:
        A dict ``{name: clips}`` over `PROBES`, each of the input's shape:
        ``"frozen"`` repeats the middle frame (index ``T // 2``) ``T`` times.

    Example:

    >>> clips = np.arange(3)[None, :, None, None, None]  # one clip, frames 0, 1, 2
    >>> probe_clips(clips)["reversed"].ravel().tolist(), probe_clips(clips)["frozen"].ravel().tolist()
    ([2, 1, 0], [1, 1, 1])
    """
    clips = _check_clips(clips, "probe_clips")
    num_frames = clips.shape[1]
    rng = np.random.default_rng(seed)
    order = np.stack([_non_identity_permutation(rng, num_frames) for _ in clips])
    return {
        "original": clips,
        "shuffled": np.take_along_axis(clips, order.reshape(order.shape + (1,) * 3), axis=1),
        "reversed": clips[:, ::-1],
        "frozen": np.repeat(clips[:, num_frames // 2 : num_frames // 2 + 1], num_frames, axis=1),
    }


def _non_identity_permutation(rng, size):
    while True:
        order = rng.permutation(size)
        if size < 2 or np.any(order != np.arange(size)):
            return order


@dataclasses.dataclass
class MotionProbes:
    """Accuracy of a classifier on original and time-scrambled clips.

    Attributes:
        accuracy: ``{probe name: accuracy}`` over `PROBES`.
        predictions: ``{probe name: predicted classes (N,)}``.
        chance: ``1 / num_classes``.
    """

    accuracy: dict
    predictions: dict
    chance: float

    def __getitem__(self, name):
        return self.accuracy[name]

    def __str__(self):
        rows = [f"{'probe':<10} {'accuracy':>8} {'change':>7}"]
        for name, value in self.accuracy.items():
            change = "" if name == "original" else f"{value - self.accuracy['original']:+7.3f}"
            rows.append(f"{name:<10} {value:8.3f} {change:>7}")
        rows.append(f"{'chance':<10} {self.chance:8.3f}")
        return "\n".join(rows)


def motion_probes(model, clips, labels, *, batch_size=32, seed=0):
    """Does this model use motion? Its accuracy when the order of frames is destroyed.

    A model whose prediction only depends on which frames a clip holds (per-frame
    features with an average over time) scores the same on original, shuffled
    and reversed clips. A model that reads motion drops towards chance on frozen
    clips (one frame repeated: no motion at all) and, where reversing a clip
    turns it into another class (left into right), below chance on reversed ones.

    Args:
        model: a classifier, clips to class scores or probabilities ``(N, classes)``.
        clips: a batch ``(N, T, H, W, C)`` scaled as the model expects.
        labels: integer classes ``(N,)``.
        batch_size: clips per forward pass.
        seed: seed of the shuffles (see `probe_clips`).

    Returns:
        A `MotionProbes`; ``print()`` it for a table.

    Example:

    >>> videos, labels, names = videokit.data.moving_squares(64)  # doctest: +SKIP
    >>> print(motion_probes(model, videos / 255.0, labels))  # doctest: +SKIP
    """
    clips = _check_clips(clips, "motion_probes")
    labels = np.asarray(labels)
    if labels.shape != clips.shape[:1]:
        raise ValueError(
            f"motion_probes expects one integer label per clip, shape ({clips.shape[0]},); "
            f"got labels of shape {labels.shape}."
        )
    predictions, num_classes = {}, None
    for name, probe in probe_clips(clips, seed=seed).items():
        scores = model.predict(probe.astype("float32"), batch_size=batch_size, verbose=0)
        predictions[name] = np.argmax(scores, axis=-1)
        num_classes = scores.shape[-1]
    accuracy = {name: float(np.mean(predicted == labels)) for name, predicted in predictions.items()}
    return MotionProbes(accuracy=accuracy, predictions=predictions, chance=1.0 / num_classes)


# ------------------------------------------------------- temporal occlusion

OCCLUSION_FILLS = ("mean", "neighbour")


def temporal_occlusion(model, clip, class_index, *, fill="mean"):
    """Which frames matter: the drop in a class's probability when one frame is hidden.

    Frame ``t`` is replaced, one frame at a time, and the clip is classified
    again; all ``T + 1`` clips go through the model in one batch.

    Args:
        model: a classifier, clips to class probabilities ``(N, classes)``.
        clip: one clip ``(T, H, W, C)`` scaled as the model expects.
        class_index: the class whose probability is watched.
        fill: what replaces frame ``t``: ``"mean"``, the clip's mean frame
            (the average over time, pixel by pixel), or ``"neighbour"``, the
            previous frame (frame 1 for frame 0): hiding a frame without
            adding anything new.

    Returns:
        A float array ``(T,)``: the original probability minus the probability
        with frame ``t`` hidden. Positive where the frame supports the class,
        about 0 where it does not matter, negative where it speaks against it.

    Example:

    >>> importance = temporal_occlusion(model, clip, class_index=1)  # doctest: +SKIP
    >>> int(np.argmax(importance))  # the frame the prediction leans on most  # doctest: +SKIP
    """
    clip = np.asarray(clip, dtype="float32")
    if clip.ndim != 4:
        raise ValueError(
            f"temporal_occlusion expects one clip (time, height, width, channels); got shape {clip.shape}."
        )
    if fill not in OCCLUSION_FILLS:
        raise ValueError(f"temporal_occlusion expects fill to be one of {list(OCCLUSION_FILLS)}; got {fill!r}.")
    num_frames = clip.shape[0]
    if fill == "neighbour" and num_frames < 2:
        raise ValueError(f"fill='neighbour' needs at least 2 frames; got a clip of {num_frames}.")
    occluded = np.repeat(clip[None], num_frames + 1, axis=0)
    mean_frame = clip.mean(axis=0)
    for t in range(num_frames):
        occluded[t + 1, t] = mean_frame if fill == "mean" else clip[t - 1 if t > 0 else 1]
    probabilities = model.predict(occluded, batch_size=num_frames + 1, verbose=0)[:, class_index]
    return (probabilities[0] - probabilities[1:]).astype("float32")


# ----------------------------------------------------------------- Grad-CAM


def grad_cam(model, clips, class_index=None, *, layer_name=None, upsample=True):
    """Grad-CAM heatmaps of a video classifier: where and when the class evidence is.

    With ``A`` the output of a convolution layer (channels ``c``) and ``y`` the
    class score, the weights are ``w_c = mean over positions of dy/dA_c`` and the
    map is ``ReLU(sum_c w_c * A_c)`` (Selvaraju et al. 2017).

    * A ``Conv3D`` layer gives spatio-temporal maps: the mean is over all
      positions ``(t, h, w)``, one set of weights per clip.
    * A ``TimeDistributed`` 2D convolution (a per-frame CNN) gives per-frame
      maps: the mean is over ``(h, w)`` of each frame, weights per frame.

    The score is the class logit: when the model ends in a ``Dense`` layer with
    a softmax, its pre-softmax output is used (as in the paper); otherwise the
    model's output itself. The model must be functional, and everything after
    the layer must depend only on it (no skip connection around it).

    Args:
        model: a functional classifier, clips to ``(N, classes)``.
        clips: one clip ``(T, H, W, C)`` or a batch ``(N, T, H, W, C)``,
            scaled as the model expects.
        class_index: the class to explain, an integer or one per clip;
            ``None``: each clip's predicted class.
        layer_name: the layer whose output is explained. By default the last
            ``Conv3D`` or ``TimeDistributed(Conv2D)`` layer or, where a skip
            connection goes around it (a ResNet block), the first later layer
            with a ``(N, T', H', W', C)`` output that the rest of the model
            depends on alone (the block's residual sum).
        upsample: resize the maps to the clip's ``(T, H, W)`` by separable
            linear interpolation with half-pixel centres (the convention of
            ``keras.ops.image.resize``; maps already of that size are
            unchanged). ``False`` returns the layer's ``(T', H', W')``.

    Returns:
        A float array ``(N, T, H, W)`` (``(N, T', H', W')`` without
        ``upsample``), not normalised: ``0`` means no evidence. For one clip,
        ``(T, H, W)``.

    Example:

    >>> videos, labels, names = videokit.data.moving_shapes(2)  # doctest: +SKIP
    >>> maps = grad_cam(model, videos / 255.0)  # doctest: +SKIP
    >>> videokit.viz.frame_grid(overlay(videos, maps))  # doctest: +SKIP
    """
    clips = np.asarray(clips, dtype="float32")
    single = clips.ndim == 4
    clips = _check_clips(clips[None] if single else clips, "grad_cam")
    layer, per_frame = _explained_layer(model, layer_name)
    features_model, score_of = _split_at(model, layer)
    features = features_model(clips)
    if class_index is None:
        class_index = np.argmax(keras.ops.convert_to_numpy(model(clips)), axis=-1)
    target = ops.convert_to_tensor(_one_hot(class_index, len(clips), model.output_shape[-1]))
    gradients = _gradients.input_gradient(lambda values: ops.sum(score_of(values) * target, axis=-1), features)
    features, gradients = ops.convert_to_numpy(features), ops.convert_to_numpy(gradients)
    weights = gradients.mean(axis=(2, 3) if per_frame else (1, 2, 3), keepdims=True)
    maps = np.maximum(np.sum(weights * features, axis=-1), 0.0)
    if upsample:
        maps = _resize(maps, clips.shape[1:4])
    return maps[0] if single else maps


def _explained_layer(model, layer_name):
    """``(layer, per_frame)``: the named layer, or the last video convolution where the model splits."""
    if layer_name is not None:
        layer = model.get_layer(layer_name)
        if len(layer.output.shape) != 5:
            raise ValueError(f"grad_cam explains a layer with video-shaped output (batch, time, height, width, "
                             f"channels); layer {layer_name!r} gives {tuple(layer.output.shape)}.")
        return layer, isinstance(layer, keras.layers.TimeDistributed)
    convolutions = [index for index, layer in enumerate(model.layers) if _is_video_convolution(layer)]
    if not convolutions:
        raise ValueError(
            f"grad_cam looks for a Conv3D or TimeDistributed(Conv2D) layer in {model.name!r} and found none; "
            f"name the layer to explain with layer_name= (one of {[layer.name for layer in model.layers]})."
        )
    last = model.layers[convolutions[-1]]
    for layer in model.layers[convolutions[-1] :]:
        if len(layer.output.shape) == 5 and _splits_at(model, layer):
            return layer, isinstance(last, keras.layers.TimeDistributed)
    raise ValueError(
        f"grad_cam cannot split {model.name!r} after its last convolution {last.name!r} (a skip connection "
        f"goes around every later video-shaped layer); name the layer to explain with layer_name=."
    )


def _splits_at(model, layer):
    try:
        _head(model, layer, model.output)
    except ValueError:
        return False
    return True


def _head(model, layer, outputs):
    """The model from ``layer``'s output to ``outputs``, or ``ValueError`` where the rest needs more than it.

    Keras 3.15 refuses such a graph when it is built, 3.13 only when it is run; so the graph is walked
    here: a tensor is computable from ``layer.output`` when every input of the layer that made it is.
    """
    computable = {id(layer.output)}
    grew = True
    while grew:
        grew = False
        for other in model.layers:
            if isinstance(other, keras.layers.InputLayer):
                continue
            try:
                inputs = keras.tree.flatten(other.input)
            except (AttributeError, ValueError):  # a layer called more than once: not followed
                continue
            if id(other.output) not in computable and inputs and all(id(t) in computable for t in inputs):
                computable.add(id(other.output))
                grew = True
    if not all(id(t) in computable for t in keras.tree.flatten(outputs)):
        raise ValueError(f"the layers after {layer.name!r} also need inputs from before it")
    return keras.Model(layer.output, outputs)


def _is_video_convolution(layer):
    if isinstance(layer, keras.layers.Conv3D):
        return True
    return isinstance(layer, keras.layers.TimeDistributed) and isinstance(layer.layer, keras.layers.Conv2D)


def _split_at(model, layer):
    """``(features model, score function)``: clips -> the layer's output -> class scores."""
    last = model.layers[-1]
    softmax_dense = isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax
    outputs = last.input if softmax_dense else model.output
    try:
        head = _head(model, layer, outputs)
    except ValueError as error:
        raise ValueError(
            f"grad_cam needs everything after layer {layer.name!r} to depend on its output only; "
            f"choose a later layer with layer_name= ({str(error).splitlines()[0]})."
        ) from None
    features_model = keras.Model(model.input, layer.output)
    if not softmax_dense:
        return features_model, head

    def logits(values):
        scores = ops.matmul(head(values), last.kernel)
        return ops.add(scores, last.bias) if last.use_bias else scores

    return features_model, logits


def _one_hot(class_index, count, num_classes):
    indices = np.broadcast_to(np.asarray(class_index, dtype=int), (count,))
    if np.any(indices < 0) or np.any(indices >= num_classes):
        raise ValueError(f"class_index must lie in [0, {num_classes}); got {class_index}.")
    return np.eye(num_classes, dtype="float32")[indices]


def _resize(maps, size):
    """Resize ``(N, T', H', W')`` to ``(N, *size)`` by separable linear interpolation, half-pixel centres."""
    for axis, new_size in zip((1, 2, 3), size):
        maps = _resize_axis(maps, axis, new_size)
    return maps


def _resize_axis(array, axis, new_size):
    old_size = array.shape[axis]
    if old_size == new_size:
        return array
    position = np.clip((np.arange(new_size) + 0.5) * old_size / new_size - 0.5, 0, old_size - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, old_size - 1)
    shape = [1] * array.ndim
    shape[axis] = new_size
    fraction = (position - below).reshape(shape)
    return np.take(array, below, axis=axis) * (1 - fraction) + np.take(array, above, axis=axis) * fraction


# ----------------------------------------------------------- attention maps


def attention_maps(model, clips, *, upsample=True):
    """Where a video transformer's last attention looks, patch by patch and frame by frame.

    The model's last `videokit.layers.DividedSpaceTimeBlock` or
    `videokit.layers.TransformerBlock` is run on its input with
    ``return_attention_scores=True`` and its maps are averaged over the heads:

    * divided space-time attention (TimeSformer): the class token's spatial
      attention to each patch of each frame (its copy in that frame's sequence);
    * joint attention with a class token: the class token's row of the map;
    * joint attention without one (VideoMAE's mean-pooled classifier): the
      attention each token receives, averaged over all queries.

    The token grid comes from the model's `videokit.layers.TubeletEmbedding`.

    Args:
        model: a functional video transformer (``timesformer``,
            ``videomae_classifier``) whose blocks are each called once.
        clips: one clip ``(T, H, W, C)`` or a batch ``(N, T, H, W, C)``,
            scaled as the model expects.
        upsample: resize the maps from the token grid ``(n_t, n_h, n_w)`` to the
            clip's ``(T, H, W)`` (as `grad_cam` does).

    Returns:
        A float array ``(N, T, H, W)`` (``(N, n_t, n_h, n_w)`` without
        ``upsample``) of attention weights; for one clip ``(T, H, W)``.

    Example:

    >>> maps = attention_maps(timesformer(preset="small"), clips)  # doctest: +SKIP
    >>> videokit.viz.frame_grid(overlay(clips, maps))  # doctest: +SKIP
    """
    from videokit.layers import DividedSpaceTimeBlock, TransformerBlock, TubeletEmbedding

    clips = np.asarray(clips, dtype="float32")
    single = clips.ndim == 4
    clips = _check_clips(clips[None] if single else clips, "attention_maps")
    blocks = [layer for layer in model.layers if isinstance(layer, (DividedSpaceTimeBlock, TransformerBlock))]
    embeddings = [layer for layer in model.layers if isinstance(layer, TubeletEmbedding)]
    if not blocks or len(embeddings) != 1:
        raise ValueError(f"attention_maps expects a video transformer with one TubeletEmbedding and attention "
                         f"blocks at its top level (timesformer, videomae_classifier); {model.name} has "
                         f"{len(embeddings)} embeddings and {len(blocks)} blocks.")
    block = blocks[-1]
    grid = embeddings[0].grid_shape(clips.shape)
    _, maps = block(keras.Model(model.input, block.input)(clips), return_attention_scores=True)
    if isinstance(block, DividedSpaceTimeBlock):
        weights = ops.convert_to_numpy(maps[1])[:, :, :, 0, 1:].mean(axis=2)  # (N, frames, patches)
    else:
        maps = ops.convert_to_numpy(maps).mean(axis=1)  # (N, queries, keys)
        has_class_token = maps.shape[-1] == int(np.prod(grid)) + 1
        weights = maps[:, 0, 1:] if has_class_token else maps.mean(axis=1)
    weights = weights.reshape(len(clips), *grid)
    if upsample:
        weights = _resize(weights, clips.shape[1:4])
    return weights[0] if single else weights


# ------------------------------------------------------------------ overlay


def overlay(clips, heatmaps, *, alpha=0.5, cmap="jet"):
    """Blend heatmaps onto clips, for `videokit.viz.frame_grid` or `videokit.viz.animate`.

    Each clip's heatmap is divided by its maximum (so its hottest point is the
    top of the colour map), coloured with ``cmap`` and mixed with the frames.

    Args:
        clips: one clip ``(T, H, W, C)`` or a batch ``(N, T, H, W, C)``,
            ``uint8`` or floats in ``[0, 1]``, ``C`` 1 or 3.
        heatmaps: ``(T, H, W)`` or ``(N, T, H, W)`` of non-negative values, the
            clips' size (`grad_cam` upsamples to it).
        alpha: weight of the colour map, from 0 (clip only) to 1 (map only).
        cmap: a matplotlib colour map name.

    Returns:
        Float32 RGB clips in ``[0, 1]``, ``(N, T, H, W, 3)`` (or ``(T, H, W, 3)``).

    Example:

    >>> videokit.viz.frame_grid(overlay(clips, grad_cam(model, clips)))  # doctest: +SKIP
    """
    import matplotlib

    clips, heatmaps = np.asarray(clips), np.asarray(heatmaps, dtype="float32")
    single = clips.ndim == 4
    clips, heatmaps = (clips[None], heatmaps[None]) if single else (clips, heatmaps)
    clips = _check_clips(clips, "overlay")
    if clips.shape[-1] not in (1, 3):
        raise ValueError(f"overlay expects clips with 1 or 3 channels; got shape {clips.shape}.")
    if heatmaps.shape != clips.shape[:4]:
        raise ValueError(f"overlay expects heatmaps of shape {clips.shape[:4]}, the clips' (N, T, H, W); "
                         f"got {heatmaps.shape}.")
    frames = clips / 255.0 if clips.dtype == np.uint8 else clips.astype("float32")
    if frames.min() < 0 or frames.max() > 1:
        raise ValueError(f"overlay expects uint8 clips or floats in [0, 1]; got values in "
                         f"[{frames.min():.3g}, {frames.max():.3g}].")
    if not 0 <= alpha <= 1:
        raise ValueError(f"overlay expects alpha in [0, 1]; got {alpha}.")
    peak = heatmaps.reshape(len(heatmaps), -1).max(axis=1).reshape(-1, 1, 1, 1)
    normalised = np.clip(heatmaps / np.where(peak > 0, peak, 1.0), 0.0, 1.0)
    colours = matplotlib.colormaps[cmap](normalised)[..., :3]
    blended = ((1 - alpha) * np.broadcast_to(frames, frames.shape[:4] + (3,)) + alpha * colours).astype("float32")
    return blended[0] if single else blended


def _check_clips(clips, caller):
    clips = np.asarray(clips)
    if clips.ndim != 5:
        raise ValueError(f"{caller} expects a batch of clips (N, time, height, width, channels); "
                         f"got shape {clips.shape}.")
    return clips


# ------------------------------------------------------- a run on a video


def explain_video(run_dir, path, *, output=None, max_frames=8):
    """Classify a video file with a classifier run and draw where its top class is.

    Convolutional models get Grad-CAM (`grad_cam`), video transformers their
    last attention (`attention_maps`).

    Args:
        run_dir: a finished classifier run (made by ``videokit train``).
        path: a video file; its clip is read as the run's model takes it.
        output: folder for ``<video name>.explain.png`` (default: beside the video).
        max_frames: frames drawn in the picture, evenly spaced.

    Returns:
        A dict: ``class`` (the top class's name), ``probability``,
        ``picture`` (the path of the frame grid: the clip with its heatmap
        overlay under it) and ``method`` (``"Grad-CAM"`` or ``"attention"``).

    Example:

    >>> explain_video("runs/c3d", "clip.mp4")["class"]  # doctest: +SKIP
    'move_left'
    """
    import json
    import pathlib

    import matplotlib.pyplot as plt

    from videokit import viz
    from videokit.training.task import task_for
    from videokit.training.using import load_run

    config, model = load_run(run_dir)
    task = task_for(config)
    if task.name != "classifier":
        raise ValueError(f"{run_dir} holds a {config.model} {task.name}; explain works on classifiers.")
    clip = task.clip_from_video(path)
    probabilities = model.predict(clip[None], verbose=0)[0]
    top = int(np.argmax(probabilities))
    class_name = json.loads((pathlib.Path(run_dir) / "classes.json").read_text())[top]
    method, heatmap = _explanation(model, clip, top)
    blended = overlay(clip, heatmap)
    folder = pathlib.Path(output) if output is not None else pathlib.Path(path).parent
    folder.mkdir(parents=True, exist_ok=True)
    picture = folder / f"{pathlib.Path(path).stem}.explain.png"
    rgb_clip = np.broadcast_to(clip, clip.shape[:3] + (3,))
    plt.close(viz.frame_grid(np.stack([rgb_clip, blended]), max_frames=max_frames,
                             titles=["clip", f"{method}\n{class_name}"], path=picture))
    return {"class": class_name, "probability": float(probabilities[top]), "picture": picture, "method": method}


def _explanation(model, clip, class_index):
    """``(name, heatmap)``: a transformer's attention maps, Grad-CAM for the convolutional models."""
    from videokit.layers import DividedSpaceTimeBlock, TransformerBlock

    if any(isinstance(layer, (DividedSpaceTimeBlock, TransformerBlock)) for layer in model.layers):
        return "attention", attention_maps(model, clip)
    return "Grad-CAM", grad_cam(model, clip, class_index=class_index)
