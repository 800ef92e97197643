"""Running mean over time: the causal replacement for global average pooling over frames."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="videokit")
class CumulativeAverage(keras.layers.Layer):
    """Average over the frames seen so far: output ``t`` is the mean of inputs ``0..t``.

    Global average pooling over time looks at every frame, future ones included;
    MoViNet's streaming classifiers use this running mean instead, so the
    prediction after frame ``t`` needs only a running sum and a count.

    Args:
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: ``(batch, time, ...)``.

    Input shape:
        ``(batch, time, ...)``.

    Output shape:
        Same as the input.

    Returns:
        The running means along axis 1.

    Example:

    >>> keras.ops.convert_to_numpy(CumulativeAverage()(np.array([[[1.0], [3.0], [8.0]]]))).tolist()
    [[[1.0], [2.0], [4.0]]]
    """

    def call(self, inputs):
        steps = ops.arange(1, ops.shape(inputs)[1] + 1, dtype=inputs.dtype)
        steps = ops.reshape(steps, (1, -1) + (1,) * (len(inputs.shape) - 2))
        return ops.cumsum(inputs, axis=1) / steps

    def step(self, value, total, count):
        """The running mean after one more value.

        Args:
            value: the new step's input ``(batch, ...)``.
            total: the sum of the earlier inputs (zeros at the start).
            count: how many inputs ``total`` holds, a float (0 at the start).

        Returns:
            ``(mean, new_total, new_count)``.
        """
        total, count = total + value, count + 1.0
        return total / count, total, count

    def compute_output_shape(self, input_shape):
        return input_shape
