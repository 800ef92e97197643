"""(2+1)D convolution: a 3D convolution split into a spatial and a temporal one.

Tran et al. 2018, "A Closer Look at Spatiotemporal Convolutions for Action
Recognition" (https://arxiv.org/abs/1711.11248), section 3.5.
"""

import math

import keras
from keras import ops

from videokit.layers._arguments import triple


def intermediate_channels(kernel_size, in_channels, filters):
    """Number of channels between the spatial and the temporal convolution.

    A full ``t x d x d`` 3D convolution from ``N_in`` to ``N_out`` channels has
    ``t d^2 N_in N_out`` weights. Its (2+1)D factorisation has
    ``d^2 N_in M + t M N_out`` weights; Tran et al. (2018) choose

        M = floor(t d^2 N_in N_out / (d^2 N_in + t N_out))

    so that both have (up to the rounding of ``M``) the same number of weights.
    A non-square ``t x h x w`` kernel uses ``h w`` in place of ``d^2``.

    Args:
        kernel_size: int or tuple of three ints ``(t, h, w)``, the size of
            the full 3D kernel.
        in_channels: int, ``N_in``, the channels of the input.
        filters: int, ``N_out``, the channels of the output.

    Returns:
        int, ``M`` (at least 1).

    Example:

    >>> intermediate_channels((3, 3, 3), 64, 64)
    144
    """
    time, height, width = triple("intermediate_channels", "kernel_size", kernel_size)
    for name, value in (("in_channels", in_channels), ("filters", filters)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    area = height * width
    full_weights = time * area * in_channels * filters
    return max(1, full_weights // (area * in_channels + time * filters))


PADDINGS = ("same", "valid", "symmetric")


def _conv_output_length(length, kernel, stride, padding):
    if length is None:
        return None
    if padding == "same":
        return math.ceil(length / stride)
    if padding == "symmetric":
        length += 2 * (kernel // 2)
    return (length - kernel) // stride + 1


@keras.saving.register_keras_serializable(package="videokit")
class Conv2Plus1D(keras.layers.Layer):
    """(2+1)D convolution: spatial ``1 x d x d`` then temporal ``t x 1 x 1``.

    Replaces a ``t x d x d`` `Conv3D` by a spatial `Conv3D` with kernel
    ``(1, d, d)`` producing ``M`` channels, an optional batch normalization,
    a nonlinearity, and a temporal `Conv3D` with kernel ``(t, 1, 1)`` producing
    ``filters`` channels (Tran et al. 2018). By default ``M`` is
    `intermediate_channels(kernel_size, in_channels, filters)`, which keeps
    the weight count of the full 3D convolution while doubling the number of
    nonlinearities.

    Args:
        filters: int, the number of output channels ``N_out``.
        kernel_size: int or tuple of three ints ``(t, d, d)``, the size of the
            full 3D kernel being factorised. Defaults to ``(3, 3, 3)``.
        strides: int or tuple of three ints ``(time, height, width)``. The
            spatial strides go to the spatial convolution, the temporal stride
            to the temporal convolution. Defaults to ``(1, 1, 1)``.
        padding: `"same"`, `"valid"` or `"symmetric"`, used by both
            convolutions. `"symmetric"` adds ``kernel_size // 2`` zeros on
            both sides of each convolved axis (PyTorch's ``padding=k // 2``,
            as torchvision's ``Conv2Plus1D``): the same output size as
            `"same"` for odd kernels, but where a stride of 2 meets an even
            size, `"same"` pads only the end, so its windows start one
            position later.
        intermediate_filters: int or `None`, ``M``. `None` (default) uses
            `intermediate_channels`.
        use_batch_norm: bool, whether to batch-normalize between the two
            convolutions. Defaults to `True`.
        batch_norm_epsilon: float, the batch normalization's epsilon.
            Defaults to Keras's ``1e-3`` (PyTorch's is ``1e-5``).
        batch_norm_momentum: float, the batch normalization's momentum.
            Defaults to Keras's ``0.99`` (PyTorch's ``momentum=0.1`` is
            Keras's ``0.9``).
        intermediate_activation: activation between the two convolutions.
            Defaults to `"relu"`.
        activation: activation applied to the output. Defaults to `None`.
        use_bias: bool, whether both convolutions have a bias. Defaults to
            `True`; set it to `False` when a batch normalization follows.
        kernel_initializer: initializer of both kernels.
        bias_initializer: initializer of both biases.
        kernel_regularizer: regularizer of both kernels.
        **kwargs: standard layer arguments such as `name` and `dtype`.

    Call arguments:
        inputs: a batch of clips, a 5D tensor.
        training: bool, whether the batch normalization runs in training mode.

    Input shape:
        5D tensor ``(batch, time, height, width, channels)``.

    Output shape:
        5D tensor ``(batch, new_time, new_height, new_width, filters)``; with
        `"same"` padding each new size is ``ceil(size / stride)``, with
        `"symmetric"` ``(size + 2 (k // 2) - k) // stride + 1``.

    Returns:
        The convolved clips, a tensor of the output shape.

    Example:

    >>> layer = Conv2Plus1D(64, kernel_size=(3, 3, 3), strides=(1, 2, 2))
    >>> clips = keras.random.normal((2, 8, 32, 32, 64))
    >>> tuple(layer(clips).shape)
    (2, 8, 16, 16, 64)
    >>> layer.spatial_conv.filters  # M = floor(27 * 64 * 64 / (9 * 64 + 3 * 64))
    144
    """

    def __init__(
        self,
        filters,
        kernel_size=(3, 3, 3),
        strides=(1, 1, 1),
        padding="same",
        intermediate_filters=None,
        use_batch_norm=True,
        batch_norm_epsilon=1e-3,
        batch_norm_momentum=0.99,
        intermediate_activation="relu",
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"`filters` must be a positive int, got {filters!r}.")
        if padding not in PADDINGS:
            raise ValueError(f"`padding` must be one of {PADDINGS}, got {padding!r}.")
        if intermediate_filters is not None and (
            not isinstance(intermediate_filters, int) or intermediate_filters <= 0
        ):
            raise ValueError(
                f"`intermediate_filters` must be None or a positive int, "
                f"got {intermediate_filters!r}."
            )
        self.filters = filters
        self.kernel_size = triple("Conv2Plus1D", "kernel_size", kernel_size)
        self.strides = triple("Conv2Plus1D", "strides", strides)
        self.padding = padding
        self.intermediate_filters = intermediate_filters
        self.use_batch_norm = use_batch_norm
        self.batch_norm_epsilon = batch_norm_epsilon
        self.batch_norm_momentum = batch_norm_momentum
        self.intermediate_activation = keras.activations.get(intermediate_activation)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def _check_input_shape(self, input_shape):
        if len(input_shape) != 5 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects clips of shape "
                f"(batch, time, height, width, channels) with a known number of "
                f"channels, got shape {tuple(input_shape)}."
            )

    def _conv(self, filters, kernel_size, strides, name):
        return keras.layers.Conv3D(
            filters,
            kernel_size,
            strides=strides,
            padding="valid" if self.padding == "symmetric" else self.padding,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            kernel_regularizer=self.kernel_regularizer,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        time, height, width = self.kernel_size
        time_stride, height_stride, width_stride = self.strides
        middle = self.intermediate_filters or intermediate_channels(
            self.kernel_size, int(input_shape[-1]), self.filters
        )
        self.spatial_conv = self._conv(
            middle, (1, height, width), (1, height_stride, width_stride), "spatial_conv"
        )
        self.temporal_conv = self._conv(
            self.filters, (time, 1, 1), (time_stride, 1, 1), "temporal_conv"
        )
        self.spatial_conv.build(self._padded_shape(input_shape, self.spatial_conv))
        middle_shape = self.spatial_conv.compute_output_shape(
            self._padded_shape(input_shape, self.spatial_conv)
        )
        self.batch_norm = None
        if self.use_batch_norm:
            self.batch_norm = keras.layers.BatchNormalization(
                epsilon=self.batch_norm_epsilon,
                momentum=self.batch_norm_momentum,
                dtype=self.dtype_policy,
                name="batch_norm",
            )
            self.batch_norm.build(middle_shape)
        self.temporal_conv.build(self._padded_shape(middle_shape, self.temporal_conv))

    def _padding_of(self, conv):
        """Zeros before and after each of (time, height, width) for ``conv``: none unless "symmetric"."""
        if self.padding != "symmetric":
            return ((0, 0),) * 3
        return tuple((size // 2, size // 2) for size in conv.kernel_size)

    def _padded_shape(self, shape, conv):
        sizes = [
            None if size is None else size + before + after
            for size, (before, after) in zip(shape[1:4], self._padding_of(conv))
        ]
        return (shape[0], *sizes, shape[4])

    def _pad(self, x, conv):
        padding = self._padding_of(conv)
        if not any(any(pair) for pair in padding):
            return x
        return ops.pad(x, ((0, 0), *padding, (0, 0)))

    def call(self, inputs, training=None):
        x = self.spatial_conv(self._pad(inputs, self.spatial_conv))
        if self.batch_norm is not None:
            x = self.batch_norm(x, training=training)
        x = self.intermediate_activation(x)
        return self.activation(self.temporal_conv(self._pad(x, self.temporal_conv)))

    def compute_output_shape(self, input_shape):
        self._check_input_shape(input_shape)
        sizes = [
            _conv_output_length(length, kernel, stride, self.padding)
            for length, kernel, stride in zip(input_shape[1:4], self.kernel_size, self.strides)
        ]
        return (input_shape[0], *sizes, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "intermediate_filters": self.intermediate_filters,
                "use_batch_norm": self.use_batch_norm,
                "batch_norm_epsilon": self.batch_norm_epsilon,
                "batch_norm_momentum": self.batch_norm_momentum,
                "intermediate_activation": keras.activations.serialize(
                    self.intermediate_activation
                ),
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            }
        )
        return config
