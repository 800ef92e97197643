"""The VGAN composite of a moving foreground and a static background."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="videokit")
class MaskedComposite(keras.layers.Layer):
    """VGAN composite ``video = m * f + (1 - m) * b``, ``b`` repeated over time.

    Args:
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: list ``[foreground, mask, background]``: ``foreground`` of
            shape ``(batch, frames, height, width, channels)``, ``mask`` of
            shape ``(batch, frames, height, width, 1)`` in ``[0, 1]``,
            ``background`` of shape ``(batch, height, width, channels)``.

    Input shape:
        ``[(batch, T, H, W, C), (batch, T, H, W, 1), (batch, H, W, C)]``.

    Output shape:
        ``(batch, T, H, W, C)``.

    Returns:
        The mixed video: where the mask is 1 the moving foreground shows,
        where it is 0 the static background.

    Example:

    >>> import numpy as np
    >>> f, m, b = np.ones((1, 2, 4, 4, 3)), np.full((1, 2, 4, 4, 1), 0.25), -np.ones((1, 4, 4, 3))
    >>> float(MaskedComposite()([f, m, b])[0, 0, 0, 0, 0])
    -0.5
    """

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "MaskedComposite expects [foreground, mask, background], "
                f"got {len(input_shape)} inputs."
            )
        foreground, mask, background = (tuple(s) for s in input_shape)
        if len(foreground) != 5 or mask[:-1] != foreground[:-1] or mask[-1] != 1:
            raise ValueError(
                "MaskedComposite expects foreground (batch, T, H, W, C) and mask "
                f"(batch, T, H, W, 1), got {foreground} and {mask}."
            )
        if background[1:] != foreground[2:]:
            raise ValueError(
                f"MaskedComposite expects background (batch, H, W, C) = (batch, {foreground[2:]}), "
                f"got {background}."
            )

    def call(self, inputs):
        foreground, mask, background = inputs
        background = ops.expand_dims(background, 1)
        return mask * foreground + (1.0 - mask) * background

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])
