"""The grid of the GAN networks: how many stride-2 steps lie between a ~4x4 map and a frame."""

import math

from videokit.models import _common

_MIN_SIZE = 8


def check_video_shape(model, shape, argument):
    """Check a generator's ``output_shape`` or the critic's ``input_shape``.

    Besides the checks of every builder (`videokit.models._common.check_clip_shape`),
    height and width must be divisible by ``2**k``, the ``k`` stride-2 steps
    between a ~4x4 map and the frame.

    Args:
        model: the builder's name, for the error message.
        shape: ``(frames, height, width, channels)``.
        argument: ``"output_shape"`` or ``"input_shape"``.

    Returns:
        The shape as a tuple.
    """
    shape = _common.check_clip_shape(model, shape, argument=argument, min_size=_MIN_SIZE)
    _, height, width, _ = shape
    steps = spatial_steps(height, width)
    if height % 2**steps or width % 2**steps:
        raise _common.clip_shape_error(
            model, argument, shape,
            f"height and width divisible by {2**steps} (the {steps} stride-2 steps down to about 4x4)",
        )
    return shape


def spatial_steps(height, width):
    """Stride-2 steps between a ~4x4 grid and the frame size."""
    return int(math.log2(min(height, width) // 4))


def upsampling_plan(shape):
    """Start grid ``(t, h, w)`` and the temporal stride of each up-sampling step to reach ``shape``.

    Time doubles in the last steps (stride 1 first, then 2) as far as
    ``frames`` allows.
    """
    frames, height, width, _ = shape
    steps = spatial_steps(height, width)
    doublings = 0
    while doublings < steps and frames % 2 ** (doublings + 1) == 0:
        doublings += 1
    temporal = [1] * (steps - doublings) + [2] * doublings
    start = (frames // math.prod(temporal), height // 2**steps, width // 2**steps)
    return start, temporal
