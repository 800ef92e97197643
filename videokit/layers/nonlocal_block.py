"""Non-local block, embedded Gaussian version (Wang, Girshick, Gupta and He, CVPR 2018)."""

import math

import keras
from keras import ops

_SUPPORTED_RANKS = (3, 4, 5)


def _sub_sampling_pool(rank, dtype):
    """2x2 max pooling over height and width, or over time for (batch, time, channels)."""
    if rank == 5:
        return keras.layers.MaxPooling3D((1, 2, 2), padding="same", name="sub_sample", dtype=dtype)
    if rank == 4:
        return keras.layers.MaxPooling2D(2, padding="same", name="sub_sample", dtype=dtype)
    return keras.layers.MaxPooling1D(2, padding="same", name="sub_sample", dtype=dtype)


@keras.saving.register_keras_serializable(package="videokit")
class NonLocalBlock(keras.layers.Layer):
    """Self-attention over all positions of a clip, added as a residual.

    Every output position is a weighted sum over *all* positions of the
    input, wherever they are in space and time (Wang et al., 2018,
    "Non-local Neural Networks"). With the positions flattened to rows of
    `x` (`N` rows of `c` channels), the embedded Gaussian block computes

        theta = x W_theta,  phi = x W_phi,  g = x W_g    (1x1x1 convolutions, with biases)
        A = softmax(theta phi^T)                               (row-wise, N x N)
        y = A g
        z = x + BN(y W_z)

    `W_z` maps the `inner_channels` back to `c`. The last step of the
    residual branch starts at zero (the BatchNorm scale `gamma`, or `W_z`
    itself when `use_batch_norm=False`), so a freshly inserted block is the
    identity and does not disturb a pre-trained network.

    Args:
        inner_channels: channels of theta, phi and g; defaults to
            `channels // 2` (at least 1), as in the paper.
        sub_sample: if True, phi and g are max-pooled 2x2 over height and
            width (over time for `(batch, time, channels)` inputs), which
            cuts the attention cost by 4 (2 for sequences).
        use_batch_norm: if True, BatchNorm with a zero-initialised `gamma`
            follows `W_z`; if False, `W_z` itself is zero-initialised.
        kernel_initializer: initializer of the theta, phi and g projections
            (and of `W_z` when BatchNorm is used).
        return_attention: if True, calling the layer returns the pair
            `(outputs, attention)`, e.g. to plot what each position attends
            to. Can be overridden per call.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        inputs: a tensor `(batch, time, height, width, channels)`,
            `(batch, height, width, channels)` or `(batch, time, channels)`.
        training: Python boolean, passed to BatchNorm.
        return_attention: optional bool overriding the layer's
            `return_attention` for this call.

    Input shape:
        `(batch, time, height, width, channels)`, `(batch, height, width,
        channels)` or `(batch, time, channels)`, with known channels.

    Output shape:
        The input shape. With `return_attention=True`, also
        the attention `(batch, N, M)`: `N` query positions
        (`time * height * width`) and `M` key positions (`N`, or about
        `N / 4` with `sub_sample`).

    Returns:
        `inputs + BN(W_z(attention @ g))`, or the pair `(outputs, attention)`
        (each attention row sums to 1) when `return_attention` is True.

    Example:

    >>> clip = keras.random.normal((2, 4, 6, 6, 16))
    >>> block = NonLocalBlock()
    >>> output, attention = block(clip, return_attention=True)
    >>> tuple(output.shape), tuple(attention.shape)
    ((2, 4, 6, 6, 16), (2, 144, 144))
    >>> bool(keras.ops.all(output == clip))   # identity at initialisation
    True
    """

    def __init__(
        self,
        inner_channels=None,
        sub_sample=False,
        use_batch_norm=True,
        kernel_initializer="glorot_uniform",
        return_attention=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if inner_channels is not None and inner_channels < 1:
            raise ValueError(
                f"NonLocalBlock inner_channels must be a positive integer or None; "
                f"got inner_channels={inner_channels}."
            )
        self.inner_channels = inner_channels
        self.sub_sample = sub_sample
        self.use_batch_norm = use_batch_norm
        self.return_attention = return_attention
        # Kept serialised, so each projection gets its own initializer instance.
        self.kernel_initializer = keras.initializers.serialize(
            keras.initializers.get(kernel_initializer)
        )

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) not in _SUPPORTED_RANKS or input_shape[-1] is None:
            raise ValueError(
                "NonLocalBlock expects (batch, time, height, width, channels), "
                "(batch, height, width, channels) or (batch, time, channels) with known channels; "
                f"got shape {input_shape}."
            )
        channels = input_shape[-1]
        inner = self.inner_channels or max(channels // 2, 1)
        self.theta = self._projection(inner, self.kernel_initializer, "theta")
        self.phi = self._projection(inner, self.kernel_initializer, "phi")
        self.g = self._projection(inner, self.kernel_initializer, "g")
        w_z_initializer = self.kernel_initializer if self.use_batch_norm else "zeros"
        self.w_z = self._projection(channels, w_z_initializer, "w_z")
        for projection in (self.theta, self.phi, self.g):
            projection.build(input_shape)
        self.w_z.build(input_shape[:-1] + (inner,))
        self.batch_norm = None
        if self.use_batch_norm:
            self.batch_norm = keras.layers.BatchNormalization(
                gamma_initializer="zeros", name="batch_norm", dtype=self.dtype_policy
            )
            self.batch_norm.build(input_shape)
        self.pool = None
        if self.sub_sample:
            self.pool = _sub_sampling_pool(len(input_shape), self.dtype_policy)

    def _projection(self, units, initializer, name):
        return keras.layers.Dense(
            units, kernel_initializer=initializer, name=name, dtype=self.dtype_policy
        )

    def call(self, inputs, training=None, return_attention=None):
        theta = self._positions(self.theta(inputs))
        phi = self._positions(self._keys(self.phi(inputs)))
        g = self._positions(self._keys(self.g(inputs)))
        attention = ops.softmax(ops.matmul(theta, ops.transpose(phi, (0, 2, 1))), axis=-1)
        y = ops.reshape(ops.matmul(attention, g), tuple(ops.shape(inputs)[:-1]) + (g.shape[-1],))
        z = self.w_z(y)
        if self.batch_norm is not None:
            z = self.batch_norm(z, training=training)
        outputs = inputs + z
        if self.return_attention if return_attention is None else return_attention:
            return outputs, attention
        return outputs

    def _keys(self, x):
        return self.pool(x) if self.pool is not None else x

    @staticmethod
    def _positions(x):
        """(batch, ..., channels) -> (batch, positions, channels), static when sizes are known."""
        if None not in x.shape[1:]:
            return ops.reshape(x, (-1, math.prod(x.shape[1:-1]), x.shape[-1]))
        return ops.reshape(x, (ops.shape(x)[0], -1, ops.shape(x)[-1]))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "inner_channels": self.inner_channels,
                "sub_sample": self.sub_sample,
                "use_batch_norm": self.use_batch_norm,
                "kernel_initializer": self.kernel_initializer,
                "return_attention": self.return_attention,
            }
        )
        return config
