"""A 3D convolution whose time axis is padded by repeating the first and last frames."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="videokit")
class EdgePaddedConv3D(keras.layers.Layer):
    """`Conv3D` with ``"same"`` output size whose time padding repeats the edge frames.

    Zero padding in time makes the first and last frames of a static clip
    different from the middle ones. Repeating the edge frames instead keeps a
    static clip static through the layer, which is what an inflated 2D network
    needs (`videokit.models.inflate`): then its output on a clip of one frame
    repeated equals the 2D network's output on that frame, at every frame.
    Space is padded as the wrapped `Conv3D` pads it (``"same"`` or
    ``"valid"``); time stride is 1.

    Args:
        filters: int, output channels.
        kernel_size: tuple ``(time, height, width)``; an odd ``time``.
        strides: tuple ``(1, height, width)``.
        padding: ``"same"`` or ``"valid"``, for space.
        dilation_rate: tuple ``(1, height, width)``.
        activation: the activation, as for `Conv3D`.
        use_bias: whether to add a bias.
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: clips ``(batch, time, height, width, channels)``.

    Input shape:
        ``(batch, time, height, width, channels)``.

    Output shape:
        ``(batch, time, height', width', filters)``: as many frames as the input.

    Returns:
        The convolved clips.

    Example:

    >>> layer = EdgePaddedConv3D(2, (3, 3, 3), padding="same")
    >>> static = np.repeat(np.random.rand(1, 1, 6, 6, 1).astype("float32"), 4, axis=1)
    >>> outputs = keras.ops.convert_to_numpy(layer(static))
    >>> outputs.shape, bool(np.allclose(outputs[:, 0], outputs[:, -1], atol=1e-6))
    ((1, 4, 6, 6, 2), True)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", dilation_rate=(1, 1, 1),
                 activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        kernel_size, strides, dilation_rate = tuple(kernel_size), tuple(strides), tuple(dilation_rate)
        if len(kernel_size) != 3 or kernel_size[0] % 2 == 0 or strides[0] != 1 or dilation_rate[0] != 1:
            raise ValueError(
                "EdgePaddedConv3D expects an odd time kernel with time stride and dilation 1; got "
                f"kernel_size={kernel_size}, strides={strides}, dilation_rate={dilation_rate}."
            )
        self.conv = keras.layers.Conv3D(
            filters, kernel_size, strides=strides, padding=padding, dilation_rate=dilation_rate,
            activation=activation, use_bias=use_bias, name="conv3d", dtype=self.dtype_policy,
        )

    @property
    def half(self):
        """Frames repeated before the first and after the last: ``(k_t - 1) / 2``."""
        return (self.conv.kernel_size[0] - 1) // 2

    def build(self, input_shape):
        frames = None if input_shape[1] is None else input_shape[1] + 2 * self.half
        self.conv.build((input_shape[0], frames, *input_shape[2:]))

    def call(self, inputs):
        if self.half:
            first, last = inputs[:, :1], inputs[:, -1:]
            inputs = ops.concatenate(
                [ops.repeat(first, self.half, axis=1), inputs, ops.repeat(last, self.half, axis=1)], axis=1
            )
        # Time is "valid" after the edge padding only where the wrapped conv's own padding is "valid";
        # with "same" it also zero-pads time, so the frames its zeros reach are cut off.
        outputs = self.conv(inputs)
        if self.conv.padding == "same" and self.half:
            outputs = outputs[:, self.half : -self.half]
        return outputs

    def compute_output_shape(self, input_shape):
        frames = None if input_shape[1] is None else input_shape[1] + 2 * self.half
        shape = self.conv.compute_output_shape((input_shape[0], frames, *input_shape[2:]))
        return (shape[0], input_shape[1], *shape[2:])

    def get_config(self):
        config = self.conv.get_config()
        return {
            **super().get_config(),
            **{key: config[key] for key in ("filters", "kernel_size", "strides", "padding", "dilation_rate",
                                            "use_bias")},
            "activation": config["activation"],
        }
