"""The newest time step of a sequence: how a causal model gives one answer per clip."""

import keras


@keras.saving.register_keras_serializable(package="videokit")
class LastFrame(keras.layers.Layer):
    """Keep only the last time step: ``(batch, time, ...) -> (batch, ...)``.

    A causal model computes one output per frame, each from the frames up to
    it; the clip's answer is the one at the last frame, the only one that has
    seen the whole clip. When the model runs one frame at a time
    (`videokit.models.stream`), every frame is the last one so far, and the
    layer lets the frame through unchanged.

    Args:
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: ``(batch, time, ...)``.

    Input shape:
        ``(batch, time, ...)``, rank at least 3.

    Output shape:
        ``(batch, ...)``: the time axis removed.

    Returns:
        ``inputs[:, -1]``.

    Example:

    >>> keras.ops.convert_to_numpy(LastFrame()(np.array([[[1.0], [3.0], [8.0]]]))).tolist()
    [[8.0]]
    """

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                f"LastFrame expects sequences (batch, time, ...) of rank at least 3; got an input of shape "
                f"{tuple(input_shape)}."
            )

    def call(self, inputs):
        return inputs[:, -1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])
