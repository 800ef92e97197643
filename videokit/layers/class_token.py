"""A learned class token put before a sequence of tokens, as in ViT (Dosovitskiy et al. 2021)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="videokit")
class ClassToken(keras.layers.Layer):
    """Puts one learned token in front of every sequence.

    The transformer lets the class token attend to every other token; its
    final state is what the classifier reads (ViT, ViViT, TimeSformer).

    Args:
        initializer: initializer of the token; zeros by default, as ViT's
            and ViViT's.
        **kwargs: standard layer arguments such as `name` and `dtype`.

    Call arguments:
        inputs: the tokens.

    Input shape:
        3D tensor ``(batch, tokens, embed_dim)``.

    Output shape:
        3D tensor ``(batch, 1 + tokens, embed_dim)``.

    Returns:
        The class token followed by the tokens.

    Example:

    >>> tuple(ClassToken()(keras.random.normal((2, 5, 8))).shape)
    (2, 6, 8)
    """

    def __init__(self, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "ClassToken expects tokens (batch, tokens, embed_dim) with a known embed_dim; "
                f"got shape {tuple(input_shape)}."
            )
        self.token = self.add_weight(
            shape=(1, 1, input_shape[-1]), initializer=self.initializer, name="token"
        )

    def call(self, inputs):
        token = ops.cast(self.token, inputs.dtype)
        tokens = ops.broadcast_to(
            token, (ops.shape(inputs)[0], 1, ops.shape(inputs)[2])
        )
        return ops.concatenate([tokens, inputs], axis=1)

    def compute_output_shape(self, input_shape):
        batch, length, dim = input_shape
        return (batch, None if length is None else length + 1, dim)

    def get_config(self):
        return {
            **super().get_config(),
            "initializer": keras.initializers.serialize(self.initializer),
        }
