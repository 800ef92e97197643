"""Synthetic clip datasets that need no download.

Every generator is deterministic for a seed, and sample ``i`` depends only on
``(seed, i)``: ``moving_shapes(100)[0][:10]`` equals ``moving_shapes(10)[0]``.
"""

import functools

import numpy as np
from tqdm import tqdm

SHAPE_CLASSES = (
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "grow",
    "shrink",
    "rotate",
    "bounce",
)

_POLYGON_SIDES = {"triangle": 3, "square": 4, "pentagon": 5}
_SHAPES = ("circle", "bar", *_POLYGON_SIDES)
_PROGRESS_THRESHOLD = 256


def moving_shapes(n, *, num_frames=16, size=64, seed=0, progress=None):
    """Make a synthetic action-recognition set of shapes that move.

    Each clip shows one shape (circle, bar, triangle, square or pentagon) of a
    random colour, size and orientation doing one of eight motions, over a
    static cluttered background with per-frame sensor noise. The start
    position, speed and appearance are random, so a single frame does not tell
    the class: a model has to look at how the frames change.

    Args:
        n: number of clips.
        num_frames: frames per clip (at least 4).
        size: frame height and width in pixels (at least 24).
        seed: integer seed; the same seed always gives the same clips.
        progress: show a tqdm progress bar; by default only for large ``n``.

    Returns:
        A tuple ``(videos, labels, class_names)``: ``videos`` is a ``uint8``
        array of shape ``(n, num_frames, size, size, 3)``, ``labels`` an
        ``int32`` array of shape ``(n,)`` indexing ``class_names``, a tuple of
        the eight motion names. Labels cycle through the classes, so every
        class has ``n // 8`` or ``n // 8 + 1`` clips.

    Example:

    >>> videos, labels, class_names = moving_shapes(16, num_frames=8, size=32)
    >>> videos.shape, class_names[labels[1]]
    ((16, 8, 32, 32, 3), 'move_right')
    """
    _check_sizes(n, num_frames, size, min_frames=4, min_size=24)
    videos = np.empty((n, num_frames, size, size, 3), dtype=np.uint8)
    labels = np.arange(n, dtype=np.int32) % len(SHAPE_CLASSES)
    for index in _progress(range(n), progress, "moving_shapes"):
        rng = np.random.default_rng([seed, index])
        videos[index] = _render_shape_clip(rng, SHAPE_CLASSES[labels[index]], num_frames, size)
    return videos, labels, SHAPE_CLASSES


def moving_digits(n, *, num_frames=20, size=64, num_digits=2, digit_size=None, seed=0, progress=None):
    """Make Moving-MNIST-style clips of digits that bounce inside the frame.

    The digits are glyphs rendered offline with matplotlib's bundled fonts
    (several faces and weights, randomly slanted), 28 pixels tall in 64-pixel
    frames as in Moving MNIST, and scaled with the frame size otherwise, so
    they have room to move in small frames too. Each digit moves in a straight line with a random velocity and
    bounces off the borders; overlapping digits are combined with a maximum.

    Args:
        n: number of clips.
        num_frames: frames per clip (at least 2).
        size: frame height and width in pixels (at least 32).
        num_digits: digits per clip.
        digit_size: glyph size in pixels; by default ``round(28 * size / 64)``.
        seed: integer seed; the same seed always gives the same clips.
        progress: show a tqdm progress bar; by default only for large ``n``.

    Returns:
        A ``uint8`` array of shape ``(n, num_frames, size, size, 1)``.

    Example:

    >>> moving_digits(4, num_frames=10, size=48).shape
    (4, 10, 48, 48, 1)
    """
    _check_sizes(n, num_frames, size, min_frames=2, min_size=32)
    if num_digits < 1:
        raise ValueError(f"num_digits must be at least 1, got {num_digits}.")
    digit_size = digit_size or round(_DIGIT_SIZE * size / 64)
    if not 8 <= digit_size < size:
        raise ValueError(f"digit_size must be from 8 to {size - 1} pixels for {size}-pixel frames, got {digit_size}.")
    videos = np.zeros((n, num_frames, size, size, 1), dtype=np.uint8)
    for index in _progress(range(n), progress, "moving_digits"):
        rng = np.random.default_rng([seed, index])
        for _ in range(num_digits):
            _draw_bouncing_digit(rng, videos[index, ..., 0], digit_size)
    return videos


SQUARE_DIRECTIONS = ("move_left", "move_right", "move_up", "move_down")


def moving_squares(n, *, num_frames=8, size=16, square_size=4, seed=0):
    """Make the simplest motion set: one white square that slides across black frames.

    One channel, one object, no clutter and no noise, and the four motions of
    `SQUARE_DIRECTIONS` at one pixel per frame from a random start. It is the
    set on which a small video GAN learns shapes and motion within minutes on a
    CPU (notebook 09); the object is every pixel above 0, so a generated clip's
    object mask is easy to compare with.

    Args:
        n: number of clips.
        num_frames: frames per clip (at least 2).
        size: frame height and width in pixels; the square must be able to
            slide ``num_frames - 1`` pixels, so at least
            ``square_size + num_frames - 1``.
        square_size: side of the square in pixels.
        seed: integer seed; the same seed always gives the same clips.

    Returns:
        A tuple ``(videos, labels, class_names)``: ``videos`` a ``uint8``
        array ``(n, num_frames, size, size, 1)`` of 0 (background) and 255
        (square), ``labels`` ``int32`` ``(n,)`` indexing ``class_names``
        (`SQUARE_DIRECTIONS`), cycling through the four directions.

    Example:

    >>> videos, labels, class_names = moving_squares(4)
    >>> videos.shape, class_names[labels[1]]
    ((4, 8, 16, 16, 1), 'move_right')
    >>> [int(videos[1, t].nonzero()[1].min()) for t in (0, 1)]  # the left edge moves right
    [3, 4]
    """
    travel = num_frames - 1
    _check_sizes(n, num_frames, size, min_frames=2, min_size=square_size + travel)
    videos = np.zeros((n, num_frames, size, size, 1), dtype=np.uint8)
    labels = np.arange(n, dtype=np.int32) % len(SQUARE_DIRECTIONS)
    for index in range(n):
        rng = np.random.default_rng([seed, index])
        along = rng.integers(0, size - square_size - travel, endpoint=True)  # start, along the motion
        across = rng.integers(0, size - square_size, endpoint=True)
        motion = SQUARE_DIRECTIONS[labels[index]]
        sign = 1 if motion in ("move_right", "move_down") else -1
        start = along if sign > 0 else along + travel
        for t in range(num_frames):
            position = start + sign * t
            if motion in ("move_left", "move_right"):
                videos[index, t, across : across + square_size, position : position + square_size] = 255
            else:
                videos[index, t, position : position + square_size, across : across + square_size] = 255
    return videos, labels, SQUARE_DIRECTIONS


def _check_sizes(n, num_frames, size, *, min_frames, min_size):
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    if num_frames < min_frames:
        raise ValueError(f"num_frames must be at least {min_frames}, got {num_frames}.")
    if size < min_size:
        raise ValueError(f"size must be at least {min_size} pixels, got {size}.")


def _progress(iterable, progress, description):
    if progress is None:
        progress = len(iterable) >= _PROGRESS_THRESHOLD
    return tqdm(iterable, desc=description, unit="clip", disable=not progress)


# ----------------------------------------------------------------------------
# moving_shapes rendering


def _render_shape_clip(rng, motion, num_frames, size):
    background = _cluttered_background(rng, size)
    shape = rng.choice(_SHAPES[1:] if motion == "rotate" else _SHAPES)
    colour = _contrasting_colour(rng)
    centres, radii, angles = _trajectory(rng, motion, num_frames, size)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    frames = np.empty((num_frames, size, size, 3), dtype=np.float32)
    for t in range(num_frames):
        coverage = _shape_coverage(shape, xs, ys, centres[t], radii[t], angles[t])
        frames[t] = background * (1 - coverage[..., None]) + colour * coverage[..., None]
    frames += rng.normal(0.0, 6.0, size=frames.shape)
    return np.clip(frames, 0, 255).astype(np.uint8)


def _cluttered_background(rng, size):
    base = rng.uniform(20, 90, size=3)
    ramp = np.linspace(-15, 15, size, dtype=np.float32)
    background = np.broadcast_to(base, (size, size, 3)) + ramp[:, None, None] * rng.choice([-1, 1])
    background = np.array(background, dtype=np.float32)
    for _ in range(rng.integers(3, 7)):
        y, x = rng.integers(0, size - 4, size=2)
        h, w = rng.integers(3, max(4, size // 4), size=2)
        background[y : y + h, x : x + w] = rng.uniform(30, 120, size=3)
    return background


def _contrasting_colour(rng):
    colour = rng.uniform(60, 255, size=3)
    colour[rng.integers(3)] = rng.uniform(200, 255)
    return colour.astype(np.float32)


def _trajectory(rng, motion, num_frames, size):
    """Per-frame centre (x, y), radius and angle for one motion class."""
    t = np.arange(num_frames, dtype=np.float32)
    span = num_frames - 1
    radius = np.full(num_frames, rng.uniform(0.10, 0.16) * size, dtype=np.float32)
    angle = np.full(num_frames, rng.uniform(0, 2 * np.pi), dtype=np.float32)
    margin = radius[0] + 1
    centre = rng.uniform(margin, size - margin, size=2).astype(np.float32)
    centres = np.tile(centre, (num_frames, 1))
    if motion in ("move_left", "move_right", "move_up", "move_down"):
        distance = rng.uniform(0.3, 0.55) * size
        axis = 0 if motion in ("move_left", "move_right") else 1
        sign = 1.0 if motion in ("move_right", "move_down") else -1.0
        start = rng.uniform(margin, size - margin - distance)
        if sign < 0:
            start = size - start
        centres[:, axis] = start + sign * distance * t / span
        centres[:, 1 - axis] += rng.uniform(-0.05, 0.05) * size * t / span
    elif motion in ("grow", "shrink"):
        small, large = rng.uniform(0.06, 0.09) * size, rng.uniform(0.2, 0.26) * size
        centres[:] = rng.uniform(large + 1, size - large - 1, size=2)
        ends = (small, large) if motion == "grow" else (large, small)
        radius = np.linspace(*ends, num_frames).astype(np.float32)
    elif motion == "rotate":
        turns = rng.uniform(0.35, 0.6) * rng.choice([-1, 1])
        angle = angle + 2 * np.pi * turns * t / span
    elif motion == "bounce":
        height = rng.uniform(0.25, 0.4) * size
        floor = rng.uniform(margin + height, size - margin)
        bounces = rng.uniform(1.0, 2.0)
        phase = rng.uniform(0, 0.5)
        centres[:, 1] = floor - height * np.abs(np.sin(np.pi * (bounces * t / span + phase)))
    else:
        raise ValueError(f"Unknown motion {motion!r}; expected one of {SHAPE_CLASSES}.")
    return centres, radius, angle


def _shape_coverage(shape, xs, ys, centre, radius, angle):
    """Anti-aliased coverage in [0, 1] of a shape, from a signed distance."""
    dx, dy = xs - centre[0], ys - centre[1]
    if shape == "circle":
        inside = radius - np.sqrt(dx**2 + dy**2)
    else:
        cos, sin = np.cos(-angle), np.sin(-angle)
        u, v = dx * cos - dy * sin, dx * sin + dy * cos
        if shape == "bar":
            inside = np.minimum(radius - np.abs(u), 0.4 * radius - np.abs(v))
        else:
            inside = _regular_polygon_distance(u, v, radius, _POLYGON_SIDES[shape])
    return np.clip(inside + 0.5, 0.0, 1.0)


def _regular_polygon_distance(u, v, radius, sides):
    apothem = radius * np.cos(np.pi / sides)
    normals = 2 * np.pi * (np.arange(sides) + 0.5) / sides
    distances = [apothem - (u * np.cos(a) + v * np.sin(a)) for a in normals]
    return np.min(distances, axis=0)


# ----------------------------------------------------------------------------
# moving_digits rendering

_DIGIT_SIZE = 28
_FONTS = (("DejaVu Sans", "normal"), ("DejaVu Sans", "bold"), ("DejaVu Serif", "normal"), ("DejaVu Serif", "bold"), ("DejaVu Sans Mono", "bold"))


def _draw_bouncing_digit(rng, frames, digit_size):
    num_frames, size, _ = frames.shape
    glyph = _digit_glyph(int(rng.integers(10)), int(rng.integers(len(_FONTS))), int(rng.integers(-2, 3)), digit_size)
    limit = size - digit_size
    position = rng.uniform(0, limit, size=2)
    velocity = rng.uniform(1.0, 3.0, size=2) * rng.choice([-1, 1], size=2) * size / 64
    for t in range(num_frames):
        y, x = np.round(position).astype(int)
        window = frames[t, y : y + digit_size, x : x + digit_size]
        np.maximum(window, glyph, out=window)
        position, velocity = _bounce(position + velocity, velocity, limit)


def _bounce(position, velocity, limit):
    velocity = np.where((position < 0) | (position > limit), -velocity, velocity)
    return np.clip(position, 0, limit), velocity


@functools.lru_cache(maxsize=None)
def _digit_glyph(digit, font_index, slant, digit_size=_DIGIT_SIZE):
    """A ``digit_size`` square ``uint8`` image of a digit, drawn with a matplotlib font."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    family, weight = _FONTS[font_index]
    figure = Figure(figsize=(1, 1), dpi=digit_size)
    figure.patch.set_facecolor("black")
    figure.text(0.5, 0.48, str(digit), color="white", family=family, weight=weight,
                fontsize=68, ha="center", va="center")
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    glyph = np.asarray(canvas.buffer_rgba())[..., 0].copy()
    for row in range(digit_size):  # Shear to imitate handwriting slant.
        glyph[row] = np.roll(glyph[row], int(round(slant * (row - digit_size / 2) / digit_size * 2)))
    return glyph
