"""Two-stream feature fusion (Feichtenhofer, Pinz and Zisserman, CVPR 2016)."""

import keras
from keras import ops

FUSION_MODES = ("sum", "max", "concat", "conv", "bilinear")
_CONV_BY_RANK = {3: keras.layers.Conv1D, 4: keras.layers.Conv2D, 5: keras.layers.Conv3D}


@keras.saving.register_keras_serializable(package="videokit")
class FeatureFusion(keras.layers.Layer):
    """Fuses two feature maps of the same layout into one.

    Feichtenhofer et al. (2016), "Convolutional Two-Stream Network Fusion for
    Video Action Recognition", compare ways to merge an appearance stream `a`
    and a motion stream `b` at the same network depth. At every location
    (time, row, column) with channel vectors `a` and `b`:

    * `"sum"`: `a + b`.
    * `"max"`: `maximum(a, b)`, element by element.
    * `"concat"`: `[a, b]`, stacked on the channel axis.
    * `"conv"`: `[a, b]` followed by a learned 1x1 (1x1x1 for 3D maps)
      convolution `W [a, b] + bias` with `filters` output channels, so the
      network learns which channels of the two streams correspond.
    * `"bilinear"`: the outer product `a b^T` at every location, summed over
      all locations, flattened, then signed square root
      `sign(x) sqrt(|x| + epsilon)` and L2 normalisation
      `x / sqrt(sum(x^2) + epsilon)`, as in bilinear CNNs
      (Lin, RoyChowdhury and Maji, 2015). It removes all spatial and temporal
      layout and returns one `c_a * c_b` vector per example.

    Args:
        mode: one of `"sum"`, `"max"`, `"concat"`, `"conv"`, `"bilinear"`.
        filters: output channels of the `"conv"` mode; defaults to the
            channels of one stream. Only allowed with `mode="conv"`.
        epsilon: small constant of the signed square root and the L2
            normalisation of the `"bilinear"` mode.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        inputs: a list `[a, b]` of two tensors. All axes but the last
            (channels) must agree; `"sum"` and `"max"` also need the same
            channels.

    Input shape:
        Two tensors `(batch, ..., channels)`: `(batch, channels)`,
        `(batch, time, channels)`, `(batch, height, width, channels)` or
        `(batch, time, height, width, channels)`. `"conv"` needs rank 3 to 5.

    Output shape:
        `"sum"`, `"max"`: the input shape. `"concat"`: the input shape with
        `c_a + c_b` channels. `"conv"`: the input shape with `filters`
        channels. `"bilinear"`: `(batch, c_a * c_b)`.

    Returns:
        The fused tensor.

    Example:

    >>> rgb = keras.random.normal((2, 4, 7, 7, 8))
    >>> flow = keras.random.normal((2, 4, 7, 7, 8))
    >>> tuple(FeatureFusion("conv")([rgb, flow]).shape)
    (2, 4, 7, 7, 8)
    >>> tuple(FeatureFusion("bilinear")([rgb, flow]).shape)
    (2, 64)
    """

    def __init__(self, mode="sum", filters=None, epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        if mode not in FUSION_MODES:
            raise ValueError(
                f"FeatureFusion mode must be one of {FUSION_MODES}; got mode={mode!r}."
            )
        if filters is not None and mode != "conv":
            raise ValueError(
                f"FeatureFusion filters is only used by mode='conv'; got filters={filters} "
                f"with mode={mode!r}."
            )
        self.mode = mode
        self.filters = filters
        self.epsilon = epsilon
        self.conv = None

    def build(self, input_shape):
        shape_a, shape_b = self._checked_shapes(input_shape)
        if self.mode == "conv":
            conv_class = _CONV_BY_RANK[len(shape_a)]
            self.conv = conv_class(
                self.filters or shape_a[-1], kernel_size=1, name="conv", dtype=self.dtype_policy
            )
            self.conv.build(shape_a[:-1] + (shape_a[-1] + shape_b[-1],))

    def call(self, inputs):
        a, b = inputs
        if self.mode == "sum":
            return a + b
        if self.mode == "max":
            return ops.maximum(a, b)
        if self.mode == "concat":
            return ops.concatenate([a, b], axis=-1)
        if self.mode == "conv":
            return self.conv(ops.concatenate([a, b], axis=-1))
        return self._bilinear(a, b)

    def _bilinear(self, a, b):
        batch = ops.shape(a)[0]
        a = ops.reshape(a, (batch, -1, ops.shape(a)[-1]))
        b = ops.reshape(b, (batch, -1, ops.shape(b)[-1]))
        pooled_outer = ops.einsum("bli,blj->bij", a, b)
        features = ops.reshape(pooled_outer, (batch, -1))
        features = ops.sign(features) * ops.sqrt(ops.abs(features) + self.epsilon)
        squared_norm = ops.sum(ops.square(features), axis=-1, keepdims=True)
        return features / ops.sqrt(squared_norm + self.epsilon)

    def compute_output_shape(self, input_shape):
        shape_a, shape_b = self._checked_shapes(input_shape)
        if self.mode in ("sum", "max"):
            return shape_a
        if self.mode == "concat":
            return shape_a[:-1] + (shape_a[-1] + shape_b[-1],)
        if self.mode == "conv":
            return shape_a[:-1] + (self.filters or shape_a[-1],)
        return (shape_a[0], shape_a[-1] * shape_b[-1])

    def _checked_shapes(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 2
            or not all(isinstance(shape, (list, tuple)) for shape in input_shape)
        ):
            raise ValueError(
                "FeatureFusion expects a list of two tensors [a, b]; "
                f"got input shape {input_shape}."
            )
        shape_a, shape_b = (tuple(shape) for shape in input_shape)
        if len(shape_a) != len(shape_b) or len(shape_a) < 2:
            raise ValueError(
                "FeatureFusion expects two tensors of the same rank, (batch, ..., channels); "
                f"got shapes {shape_a} and {shape_b}."
            )
        if shape_a[1:-1] != shape_b[1:-1]:
            raise ValueError(
                "FeatureFusion expects both streams to share every axis but channels; "
                f"got shapes {shape_a} and {shape_b}."
            )
        if shape_a[-1] is None or shape_b[-1] is None:
            raise ValueError(
                f"FeatureFusion needs known channel sizes; got shapes {shape_a} and {shape_b}."
            )
        if self.mode in ("sum", "max") and shape_a[-1] != shape_b[-1]:
            raise ValueError(
                f"FeatureFusion mode={self.mode!r} expects the same shape for both streams; "
                f"got shapes {shape_a} and {shape_b}."
            )
        if self.mode == "conv" and len(shape_a) not in _CONV_BY_RANK:
            raise ValueError(
                "FeatureFusion mode='conv' expects (batch, time, channels), "
                "(batch, height, width, channels) or (batch, time, height, width, channels) maps; "
                f"got shapes {shape_a} and {shape_b}."
            )
        return shape_a, shape_b

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "filters": self.filters, "epsilon": self.epsilon})
        return config
