"""A 3D convolution that never looks ahead in time, and can run one frame at a time.

MoViNet's causal convolutions (Kondratyuk et al. 2021, "MoViNets: Mobile Video
Networks for Efficient Video Recognition", https://arxiv.org/abs/2103.11511):
all the temporal padding goes before the first frame, so the output at frame
``t`` depends on frames ``t - k_t + 1 .. t`` only, and a stream of frames can be
processed with a buffer of the last ``k_t - 1`` inputs instead of the whole clip.
"""

import keras
from keras import ops

from videokit.layers._arguments import positive_int, triple


@keras.saving.register_keras_serializable(package="videokit")
class CausalConv3D(keras.layers.Layer):
    """3D convolution with causal padding in time and ``"same"`` padding in space.

    Frame ``t`` of the output is computed from input frames ``t - k_t + 1`` to
    ``t``, the missing ones before the clip being zeros, so the layer keeps the
    number of frames and never sees the future. `step` computes one output
    frame from one new input frame and a buffer of the ``k_t - 1`` previous
    ones; `videokit.models.stream` chains these steps through a whole model.

    Strides are 1 (subsample space with a pooling layer, which streams frame by
    frame).

    Args:
        filters: int, the number of output channels.
        kernel_size: int or tuple of three ints ``(time, height, width)``.
        activation: activation applied to the output (a name or a callable).
        use_bias: whether to add a bias.
        kernel_initializer: initializer of the kernel
            ``(time, height, width, in_channels, filters)``.
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: clips ``(batch, time, height, width, channels)``.

    Input shape:
        ``(batch, time, height, width, channels)``.

    Output shape:
        ``(batch, time, height, width, filters)``.

    Returns:
        The convolved clips, as many frames as the input.

    Example:

    >>> layer = CausalConv3D(4, 3)
    >>> clips = np.random.rand(2, 5, 8, 8, 3).astype("float32")
    >>> tuple(layer(clips).shape)
    (2, 5, 8, 8, 4)
    >>> buffer = np.zeros((2, 2, 8, 8, 3), "float32")  # the k_t - 1 frames before the clip
    >>> frame, buffer = layer.step(clips[:, 0], buffer)
    >>> bool(np.allclose(frame, layer(clips)[:, 0], atol=1e-5))
    True
    """

    def __init__(
        self,
        filters,
        kernel_size,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = positive_int("CausalConv3D", "filters", filters)
        self.kernel_size = triple("CausalConv3D", "kernel_size", kernel_size)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    @property
    def buffer_frames(self):
        """How many past input frames `step` needs: ``k_t - 1``."""
        return self.kernel_size[0] - 1

    def build(self, input_shape):
        if len(input_shape) != 5:
            raise ValueError(
                "CausalConv3D expects clips (batch, time, height, width, channels); "
                f"got an input of shape {tuple(input_shape)}."
            )
        channels = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(*self.kernel_size, channels, self.filters), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None

    def _convolve(self, clips):
        # ``clips`` already holds the k_t - 1 frames of history before the frames to compute.
        _, height, width = self.kernel_size
        padding = [(0, 0), (0, 0), ((height - 1) // 2, height // 2), ((width - 1) // 2, width // 2), (0, 0)]
        outputs = ops.conv(ops.pad(clips, padding), self.kernel, strides=1, padding="valid")
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def call(self, inputs):
        history = ops.zeros_like(inputs[:, :1])
        history = ops.repeat(history, self.buffer_frames, axis=1)
        return self._convolve(ops.concatenate([history, inputs], axis=1))

    def step(self, frame, buffer):
        """One output frame from one new input frame.

        Args:
            frame: the new input frame ``(batch, height, width, channels)``.
            buffer: the ``k_t - 1`` input frames before it,
                ``(batch, k_t - 1, height, width, channels)``; zeros at the
                start of a stream.

        Returns:
            ``(output_frame, new_buffer)``: ``(batch, height, width, filters)``
            and the buffer for the next frame.
        """
        window = ops.concatenate([buffer, ops.expand_dims(frame, 1)], axis=1)
        return self._convolve(window)[:, 0], window[:, 1:]

    def packed_step(self, frame, buffer):
        """`step` with every tensor at most 4-D, for export to mobile runtimes.

        The ``k_t - 1`` buffered frames are stacked along the channels, oldest
        first, and the window of ``k_t`` frames is convolved as one 2D
        convolution whose kernel is the 3D kernel with time folded into its
        input channels. It computes the same frame as `step`.

        Args:
            frame: the new input frame ``(batch, height, width, channels)``.
            buffer: ``(batch, height, width, (k_t - 1) * channels)``, the
                previous frames side by side along the last axis; zeros at
                the start of a stream.

        Returns:
            ``(output_frame, new_buffer)``, both 4-D.
        """
        window = ops.concatenate([buffer, frame], axis=-1)
        time, height, width = self.kernel_size
        channels = self.kernel.shape[3]
        kernel = ops.reshape(ops.transpose(self.kernel, (1, 2, 0, 3, 4)), (height, width, time * channels, self.filters))
        padding = [(0, 0), ((height - 1) // 2, height // 2), ((width - 1) // 2, width // 2), (0, 0)]
        outputs = ops.conv(ops.pad(window, padding), kernel, strides=1, padding="valid")
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs), window[..., channels:]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
