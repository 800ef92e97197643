"""Which frames and which pixels make a clip: the samplers of the action-recognition papers.

Pure NumPy. Two temporal samplers and one spatial one:

* ``segment_indices``: TSN (Wang et al. 2016). The video is cut into
  ``num_segments`` equal segments and one frame is taken from each: at a
  random place in its segment for training, at its centre for testing.
* ``dense_clip_indices``: C3D / I3D / SlowFast. ``clip_length`` frames
  ``stride`` apart: from a random start for training, and for testing from
  ``num_clips`` starts spread evenly over the video (the papers' "10 clips").
* ``crop_boxes``: the papers' "x 3 crops": the centre crop, or three crops
  along the longer side of the frame (left, centre, right for a wide frame).

Both temporal samplers return an ``int64`` array of shape
``(num_clips, frames_per_clip)``: one row of frame indices per clip.
"""

import numpy as np

CROP_COUNTS = (1, 3)


def segment_indices(num_video_frames, num_segments, *, training, rng=None, num_clips=1):
    """TSN segment sampling: one frame from each of ``num_segments`` equal segments.

    Segment ``k`` covers frames ``[k * n / K, (k + 1) * n / K)`` of an
    ``n``-frame video. Training takes the frame at ``(k + u) * n / K`` for a
    uniform random ``u`` in ``[0, 1)`` drawn per segment; testing takes the
    segment's centre, ``u = 1/2``, or with ``num_clips`` clips the offsets
    ``u = (c + 1/2) / num_clips`` of clip ``c``. A video shorter than
    ``num_segments`` frames repeats frames: segments share them.

    Args:
        num_video_frames: frames in the video (at least 1).
        num_segments: frames per clip, one per segment (TSN's ``K``).
        training: random positions (``True``) or fixed ones (``False``).
        rng: a seed or ``numpy.random.Generator`` for training.
        num_clips: clips to take when testing; 1 for training.

    Returns:
        An ``int64`` array ``(num_clips, num_segments)`` of frame indices,
        each row non-decreasing.

    Example:

    >>> segment_indices(300, 4, training=False)
    array([[ 37, 112, 187, 262]])
    """
    _check_counts(num_video_frames, num_segments=num_segments, num_clips=num_clips)
    if training:
        _check_training_clips(num_clips)
        offsets = np.random.default_rng(rng).random((1, num_segments))
    else:
        offsets = np.broadcast_to(((np.arange(num_clips) + 0.5) / num_clips)[:, None], (num_clips, num_segments))
    positions = (np.arange(num_segments) + offsets) * (num_video_frames / num_segments)
    return np.minimum(np.floor(positions).astype(np.int64), num_video_frames - 1)


def dense_clip_indices(num_video_frames, clip_length, stride=1, *, num_clips=1, training, rng=None):
    """Dense clips: ``clip_length`` frames ``stride`` apart.

    A clip spans ``(clip_length - 1) * stride + 1`` frames, which leaves
    ``room = num_video_frames - span`` possible extra starts. Training starts
    at a uniform random frame in ``[0, room]``. Testing starts clip ``c`` of
    ``num_clips`` at ``floor((2c + 1) * room / (2 * num_clips))``, the centre
    of the ``c``-th of ``num_clips`` equal parts of ``[0, room]``: one clip is
    the centred clip, ten clips cover the video evenly. A video shorter than
    the span starts every clip at frame 0 and repeats its last frame.

    Args:
        num_video_frames: frames in the video (at least 1).
        clip_length: frames per clip.
        stride: distance between consecutive frames of a clip.
        num_clips: clips to take when testing; 1 for training.
        training: a random start (``True``) or evenly spread ones (``False``).
        rng: a seed or ``numpy.random.Generator`` for training.

    Returns:
        An ``int64`` array ``(num_clips, clip_length)`` of frame indices.

    Example:

    >>> dense_clip_indices(300, 4, 2, num_clips=2, training=False)
    array([[ 73,  75,  77,  79],
           [219, 221, 223, 225]])
    """
    _check_counts(num_video_frames, clip_length=clip_length, stride=stride, num_clips=num_clips)
    room = max(num_video_frames - ((clip_length - 1) * stride + 1), 0)
    if training:
        _check_training_clips(num_clips)
        starts = np.array([int(np.random.default_rng(rng).integers(room + 1))])
    else:
        starts = (2 * np.arange(num_clips) + 1) * room // (2 * num_clips)
    indices = starts[:, None] + np.arange(clip_length) * stride
    return np.minimum(indices, num_video_frames - 1).astype(np.int64)


def crop_boxes(height, width, crop_size, num_crops):
    """Where the evaluation crops of a ``height x width`` frame lie.

    One crop is the centre crop. Three crops are spread along the longer
    side of the frame, as in the papers' "x 3 crops": left, centre and right
    for a frame wider than high, top, centre and bottom otherwise, each
    centred along the shorter side.

    Args:
        height: frame height.
        width: frame width.
        crop_size: ``(crop_height, crop_width)`` or an int; it must fit in
            the frame.
        num_crops: 1 or 3.

    Returns:
        A list of ``num_crops`` boxes ``(top, left, crop_height, crop_width)``.

    Example:

    >>> crop_boxes(128, 171, 112, 3)
    [(8, 0, 112, 112), (8, 29, 112, 112), (8, 59, 112, 112)]
    """
    crop_height, crop_width = (crop_size, crop_size) if np.isscalar(crop_size) else tuple(crop_size)
    if num_crops not in CROP_COUNTS:
        raise ValueError(f"num_crops must be 1 or 3 (centre, or three along the longer side); got {num_crops!r}.")
    if not (0 < crop_height <= height and 0 < crop_width <= width):
        raise ValueError(f"crop_size must fit in the {height}x{width} frame; got {crop_height}x{crop_width}.")
    spare_y, spare_x = height - crop_height, width - crop_width
    if num_crops == 1:
        return [(spare_y // 2, spare_x // 2, crop_height, crop_width)]
    if width > height:
        return [(spare_y // 2, left, crop_height, crop_width) for left in (0, spare_x // 2, spare_x)]
    return [(top, spare_x // 2, crop_height, crop_width) for top in (0, spare_y // 2, spare_y)]


def _check_counts(num_video_frames, **counts):
    for name, value in {"num_video_frames": num_video_frames, **counts}.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}.")


def _check_training_clips(num_clips):
    if num_clips != 1:
        raise ValueError(f"training samples one clip per video; got num_clips={num_clips}.")
