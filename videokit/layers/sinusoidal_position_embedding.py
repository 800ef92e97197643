"""Fixed sinusoidal position embeddings, as the Transformer's and VideoMAE's.

Vaswani et al. 2017, "Attention Is All You Need" (https://arxiv.org/abs/1706.03762),
section 3.5, in the arrangement of VideoMAE (Tong et al. 2022,
https://arxiv.org/abs/2203.12602) and its Hugging Face implementation: one
position per token of the flattened space-time grid, the sines and cosines
interleaved along the channels.
"""

import keras
import numpy as np
from keras import ops


def sinusoid_table(num_tokens, dim):
    """The table ``(num_tokens, dim)``: ``sin`` in even channels, ``cos`` in odd ones.

    Channel ``j`` of token ``p`` is ``p / 10000 ** (2 * (j // 2) / dim)``
    through ``sin`` (``j`` even) or ``cos`` (``j`` odd), computed in float64
    and rounded to float32, as ``get_sinusoid_encoding_table`` of VideoMAE.

    Example:

    >>> sinusoid_table(3, 4).round(3).tolist()
    [[0.0, 1.0, 0.0, 1.0], [0.841, 0.54, 0.01, 1.0], [0.909, -0.416, 0.02, 1.0]]
    """
    positions = np.arange(num_tokens, dtype="float64")[:, None]
    rates = np.power(10000.0, 2 * (np.arange(dim) // 2) / dim)[None, :]
    angles = positions / rates
    angles[:, 0::2] = np.sin(angles[:, 0::2])
    angles[:, 1::2] = np.cos(angles[:, 1::2])
    return angles.astype("float32")


@keras.saving.register_keras_serializable(package="videokit")
class SinusoidalPositionEmbedding(keras.layers.Layer):
    """Adds a fixed sinusoidal vector to each token; nothing is learned.

    Token ``p`` (of ``tokens``, in the order they come: time-major for
    `videokit.layers.TubeletEmbedding`) gets row ``p`` of `sinusoid_table`.
    The vectors of nearby positions are similar and every offset is a linear
    map of the table, so attention can tell positions apart without weights
    to learn: the fixed table of VideoMAE, where the encoder sees only a
    tenth of the tokens and learned positions would be trained on few.

    Args:
        **kwargs: standard layer arguments such as `name` and `dtype`.

    Call arguments:
        inputs: the tokens.

    Input shape:
        3D tensor ``(batch, tokens, embed_dim)`` with known ``tokens`` and
        ``embed_dim``.

    Output shape:
        Same as the input.

    Returns:
        The tokens plus their position vectors.

    Example:

    >>> layer = SinusoidalPositionEmbedding()
    >>> tuple(layer(keras.ops.zeros((2, 64, 32))).shape), layer.weights
    ((2, 64, 32), [])
    """

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                f"{type(self).__name__} expects tokens (batch, tokens, embed_dim) with known tokens and "
                f"embed_dim; got shape {tuple(input_shape)}."
            )
        self._table = sinusoid_table(input_shape[1], input_shape[2])

    def table(self):
        """The position vectors of all the tokens, a tensor ``(tokens, embed_dim)``."""
        return ops.convert_to_tensor(self._table)

    def call(self, inputs):
        return inputs + ops.cast(self.table(), inputs.dtype)[None]

    def compute_output_shape(self, input_shape):
        return input_shape
