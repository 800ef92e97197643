"""Learned position embeddings of space-time tokens: one joint table, or space plus time.

Joint: one vector per token, as ViViT's (Arnab et al. 2021,
https://arxiv.org/abs/2103.15691). Separable: a vector per spatial position
plus a vector per time step, as TimeSformer's (Bertasius et al. 2021,
https://arxiv.org/abs/2102.05095).
"""

import keras
from keras import ops

from videokit.layers._arguments import positive_int

MODES = ("joint", "separable")


@keras.saving.register_keras_serializable(package="videokit")
class SpaceTimePositionEmbedding(keras.layers.Layer):
    """Adds a learned position vector to each of ``num_frames * num_patches`` tokens.

    The tokens are in time-major order, as `TubeletEmbedding` makes them:
    token ``t * num_patches + s`` is spatial position ``s`` of time step
    ``t``. With ``mode="joint"`` a table of ``num_frames * num_patches``
    vectors is learned, one per token. With ``mode="separable"`` two smaller
    tables are learned, ``space`` (``num_patches`` vectors) and ``time``
    (``num_frames`` vectors), and token ``(t, s)`` gets ``space[s] + time[t]``:
    fewer weights, and every frame shares the spatial layout.

    With ``class_token=True`` the inputs start with one extra token (the
    class token of ViT) that gets a position vector of its own and no time
    vector, as in ViViT and TimeSformer.

    Args:
        num_frames: int, the number of time steps ``n_t``.
        num_patches: int, the number of spatial positions per time step ``n_s``.
        mode: ``"joint"`` or ``"separable"``.
        class_token: bool, whether the inputs start with a class token.
        embeddings_initializer: initializer of the tables; a truncated normal
            of standard deviation 0.02 by default, as ViT's.
        **kwargs: standard layer arguments such as `name` and `dtype`.

    Call arguments:
        inputs: the tokens.

    Input shape:
        3D tensor ``(batch, tokens, embed_dim)`` with ``tokens =
        num_frames * num_patches`` (plus 1 with ``class_token``).

    Output shape:
        Same as the input.

    Returns:
        The tokens plus their position vectors.

    Example:

    >>> layer = SpaceTimePositionEmbedding(4, 16, mode="separable")
    >>> tuple(layer(keras.random.normal((2, 64, 32))).shape)
    (2, 64, 32)
    >>> [tuple(weight.shape) for weight in layer.weights]
    [(16, 32), (4, 32)]
    """

    def __init__(
        self,
        num_frames,
        num_patches,
        mode="joint",
        class_token=False,
        embeddings_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.num_frames = positive_int(name, "num_frames", num_frames)
        self.num_patches = positive_int(name, "num_patches", num_patches)
        if mode not in MODES:
            raise ValueError(
                f"{name} expects mode to be one of {MODES}; got mode={mode!r}."
            )
        self.mode = mode
        self.class_token = bool(class_token)
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer or keras.initializers.TruncatedNormal(stddev=0.02)
        )

    @property
    def num_tokens(self):
        """The number of tokens the layer takes, the class token included."""
        return self.num_frames * self.num_patches + int(self.class_token)

    def build(self, input_shape):
        if (
            len(input_shape) != 3
            or input_shape[1] != self.num_tokens
            or input_shape[2] is None
        ):
            raise ValueError(
                f"{type(self).__name__} expects tokens (batch, {self.num_tokens}, embed_dim): "
                f"{self.num_frames} frames x {self.num_patches} patches"
                f"{' + 1 class token' if self.class_token else ''}; got shape {tuple(input_shape)}."
            )
        dim = input_shape[2]

        def table(name, rows):
            return self.add_weight(
                shape=(rows, dim), initializer=self.embeddings_initializer, name=name
            )

        if self.mode == "joint":
            self.joint = table("joint", self.num_frames * self.num_patches)
        else:
            self.space = table("space", self.num_patches)
            self.time = table("time", self.num_frames)
        if self.class_token:
            self.class_position = table("class_position", 1)

    def table(self):
        """The position vectors of all the tokens, a tensor ``(tokens, embed_dim)``."""
        if self.mode == "joint":
            positions = self.joint
        else:
            grid = self.time[:, None, :] + self.space[None, :, :]
            positions = ops.reshape(grid, (self.num_frames * self.num_patches, -1))
        if self.class_token:
            positions = ops.concatenate([self.class_position, positions], axis=0)
        return positions

    def call(self, inputs):
        return inputs + ops.cast(self.table(), inputs.dtype)[None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_frames": self.num_frames,
            "num_patches": self.num_patches,
            "mode": self.mode,
            "class_token": self.class_token,
            "embeddings_initializer": keras.initializers.serialize(
                self.embeddings_initializer
            ),
        }
