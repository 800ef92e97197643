"""Tubelet embedding: a clip cut into non-overlapping space-time patches, each one a token.

Arnab et al. 2021, "ViViT: A Video Vision Transformer"
(https://arxiv.org/abs/2103.15691), section 3.2; with a tubelet one frame long
it is the patch embedding of ViT and TimeSformer.
"""

import math

import keras
from keras import ops

from videokit.layers._arguments import triple


@keras.saving.register_keras_serializable(package="videokit")
class TubeletEmbedding(keras.layers.Layer):
    """Cuts clips into ``t x h x w`` tubelets and projects each to a token.

    A `Conv3D` whose kernel and strides are both the tubelet size is the same
    as cutting the clip into non-overlapping tubelets, flattening each to a
    vector of ``t * h * w * channels`` values and multiplying it by one
    matrix (plus a bias). The tokens come out in time-major order: all the
    tubelets of the first time step (row by row), then the next.

    Args:
        embed_dim: int, the size of each token.
        patch_size: int or tuple of three ints ``(t, h, w)``, the tubelet
            size: ``(2, 16, 16)`` in ViViT, ``(1, 16, 16)`` in TimeSformer.
        kernel_initializer: initializer of the projection.
        bias_initializer: initializer of the bias.
        **kwargs: standard layer arguments such as `name` and `dtype`.

    Call arguments:
        inputs: a batch of clips whose time, height and width are multiples
            of the tubelet's.

    Input shape:
        5D tensor ``(batch, time, height, width, channels)``.

    Output shape:
        3D tensor ``(batch, n_t * n_h * n_w, embed_dim)`` with
        ``n_t = time // t``, ``n_h = height // h``, ``n_w = width // w``.

    Returns:
        The tokens, a tensor of the output shape.

    Example:

    >>> layer = TubeletEmbedding(32, patch_size=(2, 8, 8))
    >>> tuple(layer(keras.random.normal((2, 8, 32, 32, 3))).shape)
    (2, 64, 32)
    >>> layer.grid_shape((None, 8, 32, 32, 3))
    (4, 4, 4)
    """

    def __init__(
        self,
        embed_dim,
        patch_size=(2, 16, 16),
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(embed_dim, int) or embed_dim <= 0:
            raise ValueError(
                f"TubeletEmbedding expects embed_dim to be a positive int; got {embed_dim!r}."
            )
        self.embed_dim = embed_dim
        self.patch_size = triple("TubeletEmbedding", "patch_size", patch_size)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def grid_shape(self, input_shape):
        """The number of tubelets ``(n_t, n_h, n_w)`` along time, height and width.

        Raises:
            ValueError: ``input_shape`` is not a batch of clips whose time,
                height and width are multiples of the tubelet's.
        """
        sizes = tuple(input_shape)
        divisible = len(sizes) == 5 and all(
            isinstance(size, int) and size % patch == 0 and size >= patch
            for size, patch in zip(sizes[1:4], self.patch_size)
        )
        if not divisible or sizes[-1] is None:
            raise ValueError(
                "TubeletEmbedding expects clips (batch, time, height, width, channels) whose "
                f"time, height and width are multiples of patch_size={self.patch_size}; "
                f"got shape {sizes}."
            )
        return tuple(size // patch for size, patch in zip(sizes[1:4], self.patch_size))

    def multiply_adds(self, input_shape):
        """Multiply-accumulates for one clip ``(time, height, width, channels)``."""
        tokens = math.prod(self.grid_shape((None, *input_shape)))
        return tokens * math.prod(self.patch_size) * input_shape[-1] * self.embed_dim

    def build(self, input_shape):
        self.grid_shape(input_shape)
        self.projection = keras.layers.Conv3D(
            self.embed_dim,
            self.patch_size,
            strides=self.patch_size,
            padding="valid",
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="projection",
        )
        self.projection.build(input_shape)

    def call(self, inputs):
        tokens = self.projection(inputs)
        return ops.reshape(tokens, (ops.shape(tokens)[0], -1, self.embed_dim))

    def compute_output_shape(self, input_shape):
        n_t, n_h, n_w = self.grid_shape(input_shape)
        return (input_shape[0], n_t * n_h * n_w, self.embed_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "patch_size": self.patch_size,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
