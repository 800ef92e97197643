"""Soft attention pooling over the time axis of a feature sequence."""

import keras
from keras import ops

_MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="videokit")
class TemporalAttentionPooling(keras.layers.Layer):
    """Pools a sequence of frame features into one vector with soft attention.

    Each time step `x_t` gets a score `e_t = v^T tanh(W x_t + b)` (additive
    attention, Bahdanau et al. 2015). The scores are turned into weights
    `alpha = softmax(e)` over time, and the output is the weighted average
    `sum_t alpha_t x_t`. Unlike taking the last RNN state or the mean over
    time, the weights show which frames the model looks at.

    Time steps masked out by a Keras mask (from `keras.layers.Masking` or an
    `Embedding(mask_zero=True)`, or passed as `mask=`) get weight 0. A sample
    whose steps are all masked gets uniform weights. Scores and weights are
    computed in float32, also under a mixed precision policy.

    Args:
        units: Size of the hidden layer `W` that scores each time step.
        return_attention: If `True`, calling the layer returns the pair
            `(pooled, weights)` instead of `pooled` alone. Can be overridden
            per call.
        **kwargs: Standard `keras.layers.Layer` arguments (`name`, `dtype`...).

    Call arguments:
        inputs: Float tensor of shape `(batch, time, features)`.
        mask: Optional boolean tensor of shape `(batch, time)`; `True` marks
            the steps to attend to.
        return_attention: Optional bool overriding the layer's
            `return_attention` for this call.

    Input shape:
        3-D tensor `(batch, time, features)`.

    Output shape:
        `(batch, features)`, and the weights `(batch, time)` when
        `return_attention` is `True`.

    Returns:
        The attention-weighted average of the time steps, or the pair
        `(pooled, weights)` with `weights` (float32) summing to 1 over time.

    Example:

    >>> features = keras.random.normal((2, 5, 8))
    >>> pooled, weights = TemporalAttentionPooling(units=4)(
    ...     features, return_attention=True
    ... )
    >>> pooled.shape, weights.shape
    ((2, 8), (2, 5))
    """

    def __init__(self, units=64, return_attention=False, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.return_attention = return_attention
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "TemporalAttentionPooling expects inputs of shape "
                f"(batch, time, features) with a known feature size; got {input_shape}."
            )
        features = input_shape[-1]
        self.score_kernel = self.add_weight(
            shape=(features, self.units), initializer="glorot_uniform", name="score_kernel"
        )
        self.score_bias = self.add_weight(shape=(self.units,), initializer="zeros", name="score_bias")
        self.score_vector = self.add_weight(
            shape=(self.units,), initializer="glorot_uniform", name="score_vector"
        )

    def attention_weights(self, inputs, mask=None):
        """Returns the float32 attention weights `(batch, time)` for `inputs`."""
        hidden = ops.tanh(ops.matmul(inputs, self.score_kernel) + self.score_bias)
        scores = ops.cast(ops.matmul(hidden, self.score_vector), "float32")
        if mask is not None:
            scores = ops.where(ops.cast(mask, "bool"), scores, _MASKED_SCORE)
        return ops.softmax(scores, axis=1)

    def call(self, inputs, mask=None, return_attention=None):
        weights = self.attention_weights(inputs, mask)
        pooled = ops.sum(ops.expand_dims(ops.cast(weights, inputs.dtype), -1) * inputs, axis=1)
        if self._returns_attention(return_attention):
            return pooled, weights
        return pooled

    def _returns_attention(self, return_attention):
        return self.return_attention if return_attention is None else return_attention

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_spec(self, inputs, mask=None, return_attention=None):
        pooled = keras.KerasTensor((inputs.shape[0], inputs.shape[2]), dtype=self.compute_dtype)
        if self._returns_attention(return_attention):
            return pooled, keras.KerasTensor(inputs.shape[:2], dtype="float32")
        return pooled

    def get_config(self):
        return {**super().get_config(), "units": self.units, "return_attention": self.return_attention}
