"""Read, probe and write real video files with PyAV (FFmpeg inside its wheel).

``read_video`` decodes only the frames a clip needs: it reads the stream's
packet index once (no decoding, cached per file), seeks to the keyframe before
each run of wanted frames, converts and resizes only the wanted frames in
FFmpeg (swscale), and stops as soon as the last one is decoded. Every call
opens its own container, so it is safe to call from several threads.

Every failure a user can cause (missing, empty, truncated or non-video file,
no video stream, too few frames) raises ``VideoReadError``, a ``ValueError``
whose message starts with the file's path and says what is wrong. So does any
other exception PyAV raises while reading a file, so that a PyAV release that
changes its API still gives one line naming the file.

PyAV 18 (the last release for Python 3.11) and PyAV 19 differ in two ways that
matter here, both handled in the "PyAV versions" section below and nowhere
else: ``av.open`` lost its ``metadata_errors`` argument (PyAV 19 always reads
metadata as UTF-8 with ``surrogateescape``), and rational attributes such as
``time_base`` became ``av.AVRational`` values that are never ``None``.
"""

import contextlib
import dataclasses
import fractions
import functools
import pathlib

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from videokit._files import atomic_path

SAMPLING_POLICIES = ("uniform", "clip", "center", "random", "all")

_CODECS_BY_SUFFIX = {
    ".mp4": "libx264",
    ".mov": "libx264",
    ".mkv": "libx264",
    ".avi": "mpeg4",
    ".webm": "libvpx-vp9",
    ".gif": "gif",
}
_PIXEL_FORMATS = {"gif": "rgb8", "mjpeg": "yuvj420p", "ffv1": "yuv444p"}


class VideoReadError(ValueError):
    """A video file cannot be read as asked; the message names the file."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` finds out about a video without decoding its frames.

    ``width`` and ``height`` are those of the frames ``read_video`` returns,
    that is after applying the stream's display rotation.
    """

    path: str
    num_frames: int
    fps: float
    duration: float
    width: int
    height: int
    codec: str
    rotation: int


@dataclasses.dataclass(frozen=True)
class _StreamIndex:
    """Presentation timestamps of every frame, and which ones are keyframes."""

    timestamps: np.ndarray
    keyframes: np.ndarray


def probe(path):
    """Describe a video file without decoding its frames.

    The frame count comes from the container's packet index, so it is exact
    for every container (MP4, AVI, MKV, WebM) and for variable frame rates.
    Only the first frame is decoded, for its display rotation.

    Args:
        path: a video file.

    Returns:
        A ``VideoInfo`` with ``num_frames``, ``fps``, ``duration`` (seconds),
        ``width``, ``height``, ``codec`` and ``rotation`` (degrees).

    Raises:
        VideoReadError: the file is missing, empty, not a video or has no
            video stream.

    Example:

    >>> info = probe("clip.mp4")  # doctest: +SKIP
    >>> info.num_frames, info.fps, (info.height, info.width)  # doctest: +SKIP
    (50, 25.0, (240, 320))
    """
    path = _checked_path(path)
    index = _stream_index(path)
    with _reading(path), _open(path) as container:
        stream = _video_stream(container, path)
        rotation = _first_frame_rotation(container, stream, path)
        width, height = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(
            path=str(path),
            num_frames=len(index.timestamps),
            fps=_frame_rate(stream),
            duration=_duration(container, stream, index),
            width=width,
            height=height,
            codec=stream.codec_context.name,
            rotation=rotation,
        )


def sample_indices(total, num_frames=None, *, frame_step=1, start=0, sampling="uniform", seed=None):
    """Choose which frames of a ``total``-frame video make a clip.

    Policies:
        * ``"all"`` (also any policy with ``num_frames=None``): every
          ``frame_step``-th frame from ``start`` to the end, or the first
          ``num_frames`` of them.
        * ``"uniform"``: ``num_frames`` frames spread evenly from ``start`` to
          the last frame (``frame_step`` is not used).
        * ``"clip"``: ``num_frames`` frames ``frame_step`` apart from ``start``.
        * ``"center"``: the same contiguous clip, centred in the video.
        * ``"random"``: the same contiguous clip at a random place (``seed``).

    Args:
        total: number of frames in the video.
        num_frames: frames wanted, or ``None`` for all.
        frame_step: distance between consecutive frames of a clip.
        start: first frame that may be used.
        sampling: one of the policies above.
        seed: seed or ``numpy.random.Generator`` for ``"random"``.

    Returns:
        A sorted ``int64`` array of frame indices.

    Raises:
        ValueError: unknown policy, bad arguments, or the video is too short;
            the message says how many frames the request needs.
    """
    if sampling not in SAMPLING_POLICIES:
        raise ValueError(f"sampling must be one of {SAMPLING_POLICIES}, got {sampling!r}.")
    if frame_step < 1 or start < 0:
        raise ValueError(f"frame_step must be >= 1 and start >= 0, got {frame_step} and {start}.")
    if num_frames is None or sampling == "all":
        indices = np.arange(start, total, frame_step, dtype=np.int64)
        wanted = 1 if num_frames is None else num_frames
        if len(indices) < wanted:
            raise ValueError(
                f"has {total} frames; {wanted} frames with frame_step {frame_step} from frame {start} "
                f"need at least {start + (wanted - 1) * frame_step + 1}."
            )
        return indices[:num_frames]
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}.")
    available = total - start
    if sampling == "uniform":
        if available < num_frames:
            raise ValueError(
                f"the video has {total} frames; uniform sampling of {num_frames} frames from frame {start} "
                f"needs at least {start + num_frames}."
            )
        return np.round(np.linspace(start, total - 1, num_frames)).astype(np.int64)
    span = (num_frames - 1) * frame_step + 1
    if available < span:
        raise ValueError(
            f"the video has {total} frames; a clip of {num_frames} frames with frame_step {frame_step} "
            f"from frame {start} needs at least {start + span}."
        )
    offset = {
        "clip": 0,
        "center": (available - span) // 2,
        "random": int(np.random.default_rng(seed).integers(available - span + 1)),
    }[sampling]
    return start + offset + np.arange(num_frames, dtype=np.int64) * frame_step


def read_video(
    path,
    *,
    num_frames=None,
    frame_step=1,
    start=0,
    size=None,
    sampling="uniform",
    seed=None,
    indices=None,
):
    """Decode frames of a video file into a ``uint8`` RGB array.

    Args:
        path: a video file (anything FFmpeg reads: MP4, AVI, MKV, WebM, GIF...).
        num_frames: number of frames to return; ``None`` returns every
            ``frame_step``-th frame from ``start``.
        frame_step: distance between consecutive frames of a clip.
        start: first frame that may be used.
        size: ``(height, width)`` or an int for square frames; frames are
            resized by FFmpeg's swscale (area interpolation). ``None`` keeps
            the stored size.
        sampling: ``"uniform"``, ``"clip"``, ``"center"``, ``"random"`` or
            ``"all"``; see ``sample_indices``.
        seed: seed for ``sampling="random"``.
        indices: the frame numbers to decode, in any order and with repeats
            (a sampler's choice, e.g. ``videokit.data.sampling``), instead of
            ``num_frames``, ``frame_step``, ``start`` and ``sampling``; every
            frame is decoded once however often it is asked for.

    Returns:
        A ``uint8`` array of shape ``(num_frames, height, width, 3)``
        (``(len(indices), height, width, 3)`` with ``indices``).
        Grayscale and other pixel formats are converted to RGB, and the
        stream's display rotation (phone videos) is applied.

    Raises:
        VideoReadError: the file is missing, empty, truncated, not a video,
            has no video stream, or has fewer frames than asked.

    Example:

    >>> clip = read_video("clip.mp4", num_frames=16, size=112)  # doctest: +SKIP
    >>> clip.shape, clip.dtype  # doctest: +SKIP
    ((16, 112, 112, 3), dtype('uint8'))
    """
    shape = _output_shape(size)
    path = _checked_path(path)
    index = _stream_index(path)
    try:
        if indices is not None:
            wanted = _checked_indices(indices, len(index.timestamps))
        else:
            wanted = sample_indices(
                len(index.timestamps), num_frames, frame_step=frame_step, start=start, sampling=sampling, seed=seed
            )
    except ValueError as error:
        raise VideoReadError(path, str(error)) from None
    with _reading(path), _open(path) as container:
        stream = _video_stream(container, path)
        return _decode_wanted(container, stream, index, wanted, shape, path)


def iter_frames(source, size=None):
    """Decode a video one frame at a time, as it comes: a file, or a camera device.

    Args:
        source: a video file, or a camera device such as ``/dev/video0``
            (read through FFmpeg's ``v4l2`` input, on Linux).
        size: ``(height, width)`` to resize every frame to, or ``None``.

    Yields:
        RGB frames, ``uint8`` arrays ``(height, width, 3)``, upright.

    Raises:
        VideoReadError: a missing or unreadable file or device, with one line
            that names it.

    Example:

    >>> for frame in iter_frames("clip.mp4", size=(32, 32)):  # doctest: +SKIP
    ...     print(frame.shape)
    (32, 32, 3)
    """
    path = pathlib.Path(source)
    if str(path).startswith("/dev/"):
        if not path.exists():
            raise VideoReadError(path, "no such camera device (is a webcam connected? try ls /dev/video*).")
        try:
            container = av.open(str(path), format="v4l2")
        except (av.FFmpegError, ValueError) as error:
            raise VideoReadError(path, f"cannot open the camera ({_reason(error)}).") from None
    else:
        container = _open(_checked_path(path))
    convert = functools.partial(_to_rgb, shape=None if size is None else tuple(size), reformatter=VideoReformatter())
    with container, _reading(path):
        stream = _video_stream(container, path)
        try:
            for frame in container.decode(stream):
                yield convert(frame)
        except av.FFmpegError as error:
            raise VideoReadError(path, f"decoding failed ({_reason(error)}); the file is truncated or damaged.") \
                from None


def frame_count(path):
    """The number of frames of a video, from its packet index (read once per file and cached; no decoding).

    Raises:
        VideoReadError: the file is missing, empty, not a video or has no
            video stream.
    """
    return len(_stream_index(_checked_path(path)).timestamps)


def _checked_indices(indices, total):
    wanted = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(wanted) == 0 or wanted.min() < 0 or wanted.max() >= total:
        raise ValueError(f"has {total} frames; indices must be frame numbers from 0 to {total - 1}, "
                         f"got {len(wanted)} from {wanted.min(initial=0)} to {wanted.max(initial=0)}.")
    return wanted


def write_video(path, frames, fps=25, *, codec=None, quality=None, keyframe_interval=None,
                pixel_format=None, rotation=0, timestamps=None, overwrite=False):
    """Write frames to a video file (MP4/H.264, AVI, MKV, WebM/VP9 or GIF).

    The file is written to a temporary name and renamed when complete, so a
    reader never sees half a file, and an existing file is only replaced when
    ``overwrite=True``.

    Args:
        path: output file; its suffix chooses the container and the default
            codec (``.mp4``/``.mov``/``.mkv``: H.264, ``.avi``: MPEG-4 part 2,
            ``.webm``: VP9, ``.gif``: GIF).
        frames: ``uint8`` array ``(T, H, W, 3)`` RGB or ``(T, H, W)`` /
            ``(T, H, W, 1)`` grayscale; floats in ``[0, 1]`` are scaled.
        fps: frames per second.
        codec: FFmpeg encoder name to use instead of the default (e.g.
            ``"mjpeg"``, ``"ffv1"``).
        quality: constant rate factor for H.264/VP9 (lower is better).
        keyframe_interval: frames between keyframes (GOP size).
        pixel_format: FFmpeg pixel format of the stream (e.g. ``"gray"``).
        rotation: display rotation in degrees stored in the stream.
        timestamps: optional increasing frame times in seconds, for
            variable-frame-rate files.
        overwrite: replace ``path`` if it exists.

    Returns:
        The ``pathlib.Path`` written.

    Example:

    >>> clip = np.zeros((8, 64, 64, 3), np.uint8)
    >>> write_video("black.mp4", clip, fps=8)  # doctest: +SKIP
    PosixPath('black.mp4')
    """
    path = pathlib.Path(path)
    frames = _as_uint8_frames(frames)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists; pass overwrite=True to replace it.")
    codec = codec or _CODECS_BY_SUFFIX.get(path.suffix.lower())
    if codec is None:
        raise ValueError(f"{path}: unknown video suffix {path.suffix!r}; expected one of {sorted(_CODECS_BY_SUFFIX)}.")
    if timestamps is not None and len(timestamps) != len(frames):
        raise ValueError(f"{path}: got {len(timestamps)} timestamps for {len(frames)} frames.")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        try:
            _encode(temporary, frames, fps, codec, quality, keyframe_interval, pixel_format, rotation, timestamps)
        except av.FFmpegError as error:
            raise ValueError(f"{path}: FFmpeg could not write it with codec {codec!r} ({_reason(error)}).") from None
    return path


# ----------------------------------------------------------------------------
# Opening and checking files


def _checked_path(path):
    path = pathlib.Path(path)
    if not path.exists():
        raise VideoReadError(path, "no such file.")
    if path.is_dir():
        raise VideoReadError(path, "is a folder, not a video file.")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "the file is empty (0 bytes).")
    return path


def _open(path):
    try:
        return av.open(str(path), **_OPEN_OPTIONS)
    except av.FFmpegError as error:
        raise VideoReadError(path, f"not a video FFmpeg can read ({_reason(error)}).") from None


def _reason(error):
    return getattr(error, "strerror", None) or str(error)


@contextlib.contextmanager
def _reading(path):
    """Turn any other exception PyAV raises while reading ``path`` into a ``VideoReadError``.

    The specific failures (damaged, truncated, no video stream) are reported
    where they happen; this catches the rest, such as a PyAV release that
    changed an attribute, so the user still gets one line naming the file.
    """
    try:
        yield
    except (VideoReadError, MemoryError):
        raise
    except Exception as error:
        raise VideoReadError(
            path, f"PyAV {av.__version__} failed to read it ({type(error).__name__}: {_reason(error)})."
        ) from error


# ----------------------------------------------------------------------------
# PyAV versions: the only place that knows which release is installed.

# PyAV 18 and older decode metadata with a single strict encoding unless told to
# ignore errors; PyAV 19 removed the argument and never fails on metadata.
_OPEN_OPTIONS = {"metadata_errors": "ignore"} if int(av.__version__.split(".")[0]) < 19 else {}


def _fraction(rational):
    """A PyAV rational (``fractions.Fraction`` up to PyAV 18, ``av.AVRational`` from 19) as a
    ``Fraction``, or ``None`` when it is unset (``None`` before 19, ``0/1`` from 19)."""
    if not rational:
        return None
    return fractions.Fraction(rational.numerator, rational.denominator)


def _video_stream(container, path):
    if not container.streams.video:
        kinds = sorted({stream.type for stream in container.streams}) or ["none"]
        raise VideoReadError(path, f"has no video stream (streams found: {', '.join(kinds)}).")
    return container.streams.video[0]


def _stream_index(path):
    """The packet index of a file, cached while the file is unchanged."""
    status = path.stat()
    try:
        with _reading(path):
            return _cached_index((str(path.resolve()), status.st_size, status.st_mtime_ns))
    except VideoReadError as error:  # Name the file as the user did, not its resolved path.
        raise VideoReadError(path, error.problem) from None


@functools.lru_cache(maxsize=4096)  # functools.lru_cache is thread-safe.
def _cached_index(key):
    path = pathlib.Path(key[0])
    timestamps, keyframes = [], []
    with _open(path) as container:
        stream = _video_stream(container, path)
        try:
            for packet in container.demux(stream):
                timestamp = packet.pts if packet.pts is not None else packet.dts
                if timestamp is not None and packet.size:
                    timestamps.append(timestamp)
                    keyframes.append(packet.is_keyframe)
        except av.FFmpegError as error:
            if not timestamps:
                raise VideoReadError(path, f"the file is damaged ({_reason(error)}).") from None
    if not timestamps:
        raise VideoReadError(path, "the video stream holds no frames.")
    order = np.argsort(timestamps, kind="stable")
    return _StreamIndex(np.asarray(timestamps, np.int64)[order], np.asarray(keyframes, bool)[order])


def _frame_rate(stream):
    rate = _fraction(stream.average_rate) or _fraction(stream.guessed_rate) or _fraction(stream.base_rate)
    return float(rate) if rate else 0.0


def _duration(container, stream, index):
    time_base = _fraction(stream.time_base)
    if stream.duration and time_base:
        return float(stream.duration * time_base)
    if container.duration:
        return container.duration / av.time_base
    return float(int(index.timestamps[-1] - index.timestamps[0]) * (time_base or 0))


def _first_frame_rotation(container, stream, path):
    """Display rotation in degrees counter-clockwise (0, 90, 180 or 270).

    PyAV exposes the display matrix on frames only, so this decodes the first
    frame; no pixel data is converted.
    """
    try:
        frame = next(container.decode(stream), None)
    except av.FFmpegError as error:
        raise VideoReadError(path, f"decoding failed ({_reason(error)}); the file is damaged.") from None
    return _frame_rotation(frame) if frame is not None else 0


def _frame_rotation(frame):
    return int(round(getattr(frame, "rotation", 0) or 0)) % 360


# ----------------------------------------------------------------------------
# Decoding


def _output_shape(size):
    if size is None:
        return None
    height, width = (size, size) if np.isscalar(size) else size
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive (height, width), got {size!r}.")
    return int(height), int(width)


def _decode_wanted(container, stream, index, wanted, shape, path):
    """Decode the frames at ``wanted`` indices, seeking over long gaps."""
    positions = {}
    for position, frame_index in enumerate(wanted):
        positions.setdefault(int(index.timestamps[frame_index]), []).append(position)
    frames = [None] * len(wanted)
    convert = functools.partial(_to_rgb, shape=shape, reformatter=VideoReformatter())  # one swscale context
    for first, last in _decode_runs(index, np.unique(wanted)):
        _decode_run(container, stream, index, first, last, positions, frames, convert, path)
    missing = [int(wanted[i]) for i, frame in enumerate(frames) if frame is None]
    if missing:
        raise VideoReadError(path, f"could not decode frame {missing[0]} of {len(index.timestamps)} "
                                   "(the file is truncated or damaged).")
    return np.stack(frames)


def _decode_runs(index, wanted):
    """Group wanted frames into runs that each start with one seek.

    A new run starts where the keyframe before a wanted frame comes after the
    previous wanted frame: seeking there skips decoding the frames between.
    """
    keyframe_positions = np.flatnonzero(index.keyframes)
    if len(keyframe_positions) == 0:
        keyframe_positions = np.array([0])
    runs = []
    for frame_index in wanted:
        keyframe = keyframe_positions[max(np.searchsorted(keyframe_positions, frame_index, "right") - 1, 0)]
        if runs and keyframe <= runs[-1][1]:
            runs[-1][1] = frame_index
        else:
            runs.append([frame_index, frame_index])
    return runs


def _decode_run(container, stream, index, first, last, positions, frames, convert, path):
    first_timestamp, last_timestamp = index.timestamps[first], index.timestamps[last]
    if first > 0:
        container.seek(int(first_timestamp), stream=stream, backward=True, any_frame=False)
    try:
        for frame in container.decode(stream):
            timestamp = frame.pts if frame.pts is not None else frame.dts
            if timestamp is None:
                continue
            for position in positions.get(int(timestamp), ()):
                if frames[position] is None:
                    frames[position] = convert(frame)
            if timestamp >= last_timestamp:
                return
    except av.FFmpegError as error:
        raise VideoReadError(path, f"decoding failed ({_reason(error)}); the file is truncated or damaged.") from None


def _to_rgb(frame, shape, reformatter):
    """RGB pixels of a decoded frame, resized by FFmpeg's swscale and turned upright."""
    rotation = _frame_rotation(frame)
    if shape is None:
        image = reformatter.reformat(frame, format="rgb24").to_ndarray()
    else:
        height, width = shape if rotation in (0, 180) else shape[::-1]
        image = reformatter.reformat(frame, width=width, height=height, format="rgb24",
                                     interpolation="AREA").to_ndarray()
    return np.ascontiguousarray(np.rot90(image, k=rotation // 90)) if rotation else image


# ----------------------------------------------------------------------------
# Encoding


def _as_uint8_frames(frames):
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[..., None]
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3):
        raise ValueError(
            f"frames must have shape (time, height, width, 3) or (time, height, width[, 1]), got {frames.shape}."
        )
    if len(frames) == 0:
        raise ValueError("frames is empty: a video needs at least one frame.")
    if np.issubdtype(frames.dtype, np.floating):
        frames = np.round(np.clip(frames, 0.0, 1.0) * 255)
    frames = frames.astype(np.uint8)
    return np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames


def _encode(path, frames, fps, codec, quality, keyframe_interval, pixel_format, rotation, timestamps):
    _, height, width, _ = frames.shape
    with av.open(path, mode="w") as container:
        stream = container.add_stream(codec, rate=fractions.Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = width, height
        stream.pix_fmt = pixel_format or _default_pixel_format(codec, width, height)
        options = {}
        if quality is not None:
            options["crf"] = str(quality)
        if codec == "libvpx-vp9":
            options.setdefault("crf", "32")
            options.update({"b:v": "0", "deadline": "realtime", "cpu-used": "8"})
        stream.options = options
        if keyframe_interval:
            stream.codec_context.gop_size = int(keyframe_interval)
        if timestamps is not None:
            stream.codec_context.time_base = stream.time_base = _fine_time_base()
        if rotation:
            stream.set_display_rotation(rotation)
        for number, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if timestamps is not None:
                frame.pts = int(round(timestamps[number] / _fraction(stream.time_base)))
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _default_pixel_format(codec, width, height):
    if codec in _PIXEL_FORMATS:
        return _PIXEL_FORMATS[codec]
    # 4:2:0 chroma subsampling needs even sizes; odd sizes keep full chroma.
    return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"


def _fine_time_base():
    return fractions.Fraction(1, 90000)
