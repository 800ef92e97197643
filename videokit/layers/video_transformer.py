"""Transformer encoder blocks for video tokens: joint and divided space-time attention.

* `MultiHeadSelfAttention`: scaled dot-product attention (Vaswani et al. 2017)
  computed by `keras.ops.dot_product_attention`, which JAX and torch fuse on a
  GPU; the attention maps are computed by hand only when asked for.
* `TransformerBlock`: the pre-norm block of ViT. Over all the tokens of a clip
  it is ViViT's joint space-time attention (model 1); over the tokens of one
  frame, then over one token per frame, it builds ViViT's factorised encoder
  (model 2, Arnab et al. 2021, https://arxiv.org/abs/2103.15691).
* `DividedSpaceTimeBlock`: TimeSformer's divided space-time attention
  (Bertasius et al. 2021, https://arxiv.org/abs/2102.05095): attention over
  time among the tokens of one spatial position, then over space among the
  tokens of one frame, each with its own residual connection.
"""

import math

import keras
from keras import ops

from videokit.layers._arguments import positive_int


def _check_tokens(layer, input_shape):
    if len(input_shape) != 3 or input_shape[-1] is None:
        raise ValueError(
            f"{type(layer).__name__} expects tokens (batch, tokens, embed_dim) with a known "
            f"embed_dim; got shape {tuple(input_shape)}."
        )


@keras.saving.register_keras_serializable(package="videokit")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head self-attention of a sequence of tokens.

    Each head ``i`` projects the tokens ``X`` to queries ``Q_i = X W_i^Q``,
    keys ``K_i`` and values ``V_i`` of size ``d_h = embed_dim / num_heads``
    and mixes the values with the weights ``A_i = softmax(Q_i K_i^T /
    sqrt(d_h))``, one row per query summing to 1; the heads are concatenated
    and projected back to ``embed_dim``. The weighted sum is computed by
    `keras.ops.dot_product_attention` (fused on GPUs by JAX and torch),
    except when the attention maps ``A`` are asked for: then ``A`` is
    computed explicitly (in float32) and returned too.

    Args:
        num_heads: int, the number of heads; it divides the embedding size.
        use_bias: bool, whether the projections have biases.
        kernel_initializer: initializer of the four projections.
        **kwargs: standard layer arguments such as `name` and `dtype`.

    Call arguments:
        inputs: the tokens.
        return_attention_scores: bool, also return the attention maps.

    Input shape:
        3D tensor ``(batch, tokens, embed_dim)``.

    Output shape:
        Same as the input; the maps are ``(batch, num_heads, tokens, tokens)``.

    Returns:
        The attended tokens, or the pair ``(tokens, maps)``.

    Example:

    >>> attention = MultiHeadSelfAttention(num_heads=2)
    >>> tokens, maps = attention(keras.random.normal((3, 5, 8)), return_attention_scores=True)
    >>> tuple(tokens.shape), tuple(maps.shape)
    ((3, 5, 8), (3, 2, 5, 5))
    """

    def __init__(
        self, num_heads, use_bias=True, kernel_initializer="glorot_uniform", **kwargs
    ):
        super().__init__(**kwargs)
        self.num_heads = positive_int(type(self).__name__, "num_heads", num_heads)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        _check_tokens(self, input_shape)
        dim = input_shape[-1]
        if dim % self.num_heads:
            raise ValueError(
                f"{type(self).__name__} expects an embed_dim divisible by num_heads="
                f"{self.num_heads}; got embed_dim={dim}."
            )
        for name in ("query", "key", "value", "output"):
            dense = keras.layers.Dense(
                dim,
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
            )
            dense.build(input_shape)
            setattr(self, f"{name}_dense", dense)

    def _heads(self, dense, inputs):
        """``dense(inputs)`` split into heads: ``(batch, tokens, heads, head_dim)``."""
        shape = ops.shape(inputs)
        return ops.reshape(dense(inputs), (shape[0], shape[1], self.num_heads, -1))

    def call(self, inputs, return_attention_scores=False):
        query, key, value = (
            self._heads(dense, inputs)
            for dense in (self.query_dense, self.key_dense, self.value_dense)
        )
        if return_attention_scores:
            maps = self.attention_maps(query, key)
            heads = ops.einsum("bhqk,bkhd->bqhd", ops.cast(maps, value.dtype), value)
        else:
            heads = ops.dot_product_attention(query, key, value)
        shape = ops.shape(inputs)
        outputs = self.output_dense(ops.reshape(heads, (shape[0], shape[1], shape[2])))
        return (outputs, maps) if return_attention_scores else outputs

    @staticmethod
    def multiply_adds(input_shape):
        """Multiply-accumulates for one sequence ``(tokens, embed_dim)``: projections, ``QK^T``, ``AV``."""
        tokens, dim = input_shape
        return 4 * tokens * dim * dim + 2 * tokens * tokens * dim

    @staticmethod
    def attention_maps(query, key):
        """``softmax(Q K^T / sqrt(d_h))`` in float32: ``(batch, heads, queries, keys)``."""
        query, key = ops.cast(query, "float32"), ops.cast(key, "float32")
        scores = ops.einsum("bqhd,bkhd->bhqk", query, key) / math.sqrt(query.shape[-1])
        return ops.softmax(scores, axis=-1)

    def compute_output_spec(self, inputs, return_attention_scores=False):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        batch, tokens, _ = inputs.shape
        return outputs, keras.KerasTensor(
            (batch, self.num_heads, tokens, tokens), dtype="float32"
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


class _PreNormBlock(keras.layers.Layer):
    """What both blocks share: the arguments, the MLP and its layer normalisation."""

    def __init__(self, num_heads, mlp_dim, layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.num_heads = positive_int(name, "num_heads", num_heads)
        self.mlp_dim = positive_int(name, "mlp_dim", mlp_dim)
        self.layer_norm_epsilon = layer_norm_epsilon

    def _sublayer(self, layer, input_shape):
        layer.build(input_shape)
        return layer

    def _norm(self, name, input_shape):
        norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        return self._sublayer(norm, input_shape)

    def _attention(self, name, input_shape):
        return self._sublayer(
            MultiHeadSelfAttention(self.num_heads, dtype=self.dtype_policy, name=name),
            input_shape,
        )

    def _build_mlp(self, input_shape):
        dim = input_shape[-1]
        self.mlp_norm = self._norm("mlp_norm", input_shape)
        self.mlp_hidden = self._sublayer(
            keras.layers.Dense(
                self.mlp_dim,
                activation="gelu",
                dtype=self.dtype_policy,
                name="mlp_hidden",
            ),
            input_shape,
        )
        self.mlp_output = self._sublayer(
            keras.layers.Dense(dim, dtype=self.dtype_policy, name="mlp_output"),
            (*input_shape[:-1], self.mlp_dim),
        )

    def _mlp_multiply_adds(self, tokens, dim):
        return 2 * tokens * dim * self.mlp_dim

    def _mlp_residual(self, x):
        return x + self.mlp_output(self.mlp_hidden(self.mlp_norm(x)))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "mlp_dim": self.mlp_dim,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }


@keras.saving.register_keras_serializable(package="videokit")
class TransformerBlock(_PreNormBlock):
    """The pre-norm transformer encoder block of ViT: attention over all tokens, then an MLP.

    ``x = x + MSA(LN(x))``, then ``x = x + MLP(LN(x))`` with
    ``MLP = Dense(mlp_dim, GELU) -> Dense(embed_dim)``. Given every token of a
    clip, the attention is joint over space and time (ViViT model 1); ViViT's
    factorised encoder (model 2) runs these blocks over the tokens of each
    frame, then over one token per frame.

    Args:
        num_heads: int, the number of attention heads.
        mlp_dim: int, the hidden size of the MLP (4 x embed_dim in ViT).
        layer_norm_epsilon: float, the layer normalisations' epsilon.
        **kwargs: standard layer arguments such as `name` and `dtype`.

    Call arguments:
        inputs: the tokens.
        return_attention_scores: bool, also return the attention maps.

    Input shape:
        3D tensor ``(batch, tokens, embed_dim)``.

    Output shape:
        Same as the input; the maps are ``(batch, num_heads, tokens, tokens)``.

    Returns:
        The new tokens, or the pair ``(tokens, maps)``.

    Example:

    >>> block = TransformerBlock(num_heads=2, mlp_dim=16)
    >>> tuple(block(keras.random.normal((3, 5, 8))).shape)
    (3, 5, 8)
    """

    def multiply_adds(self, input_shape):
        """Multiply-accumulates for one example ``(tokens, embed_dim)``."""
        tokens, dim = input_shape
        attention = MultiHeadSelfAttention.multiply_adds((tokens, dim))
        return attention + self._mlp_multiply_adds(tokens, dim)

    def build(self, input_shape):
        _check_tokens(self, input_shape)
        self.attention_norm = self._norm("attention_norm", input_shape)
        self.attention = self._attention("attention", input_shape)
        self._build_mlp(input_shape)

    def call(self, inputs, return_attention_scores=False):
        attended = self.attention(
            self.attention_norm(inputs), return_attention_scores=return_attention_scores
        )
        if return_attention_scores:
            attended, maps = attended
        outputs = self._mlp_residual(inputs + attended)
        return (outputs, maps) if return_attention_scores else outputs

    def compute_output_spec(self, inputs, return_attention_scores=False):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        batch, tokens, _ = inputs.shape
        return outputs, keras.KerasTensor(
            (batch, self.num_heads, tokens, tokens), dtype="float32"
        )


@keras.saving.register_keras_serializable(package="videokit")
class DividedSpaceTimeBlock(_PreNormBlock):
    """TimeSformer's block: attention over time, then over space, then an MLP.

    The inputs are a class token followed by ``num_frames * num_patches``
    tokens in time-major order (token ``1 + t * num_patches + s`` is spatial
    position ``s`` of frame ``t``). With ``x_t,s`` the patch tokens:

    1. temporal attention, among the tokens of one spatial position ``s``
       (``num_frames`` tokens): ``x = x + Dense(MSA_time(LN(x)))``;
    2. spatial attention, among the tokens of one frame ``t`` plus a copy of
       the class token (``1 + num_patches`` tokens): ``x = x + MSA_space(LN(x))``;
       the class token gets the average over frames of its copies' results;
    3. ``x = x + MLP(LN(x))`` on every token, the class token included.

    This is the reference implementation's arrangement (the ``Dense`` after
    the temporal attention is its ``temporal_fc``; its class token skips the
    temporal attention). Each token attends to ``num_frames + num_patches``
    others instead of all ``num_frames * num_patches``.

    Args:
        num_heads: int, the number of attention heads (of both attentions).
        mlp_dim: int, the hidden size of the MLP.
        num_frames: int, the number of frames ``n_t`` the tokens come from.
        layer_norm_epsilon: float, the layer normalisations' epsilon.
        **kwargs: standard layer arguments such as `name` and `dtype`.

    Call arguments:
        inputs: the class token and the patch tokens.
        return_attention_scores: bool, also return the attention maps.

    Input shape:
        3D tensor ``(batch, 1 + num_frames * num_patches, embed_dim)``.

    Output shape:
        Same as the input. The maps are a pair: temporal ``(batch,
        num_patches, num_heads, num_frames, num_frames)`` and spatial
        ``(batch, num_frames, num_heads, 1 + num_patches, 1 + num_patches)``.

    Returns:
        The new tokens, or ``(tokens, (temporal_maps, spatial_maps))``.

    Example:

    >>> block = DividedSpaceTimeBlock(num_heads=2, mlp_dim=16, num_frames=4)
    >>> tuple(block(keras.random.normal((3, 1 + 4 * 6, 8))).shape)
    (3, 25, 8)
    """

    def __init__(
        self, num_heads, mlp_dim, num_frames, layer_norm_epsilon=1e-6, **kwargs
    ):
        super().__init__(
            num_heads, mlp_dim, layer_norm_epsilon=layer_norm_epsilon, **kwargs
        )
        self.num_frames = positive_int(type(self).__name__, "num_frames", num_frames)

    def _num_patches(self, input_shape):
        _check_tokens(self, input_shape)
        tokens = input_shape[1]
        if tokens is None or tokens < 2 or (tokens - 1) % self.num_frames:
            raise ValueError(
                f"{type(self).__name__} expects tokens (batch, 1 + num_frames * num_patches, "
                f"embed_dim) with num_frames={self.num_frames}; got shape {tuple(input_shape)}."
            )
        return (tokens - 1) // self.num_frames

    def multiply_adds(self, input_shape):
        """Multiply-accumulates for one example ``(1 + num_frames * num_patches, embed_dim)``."""
        tokens, dim = input_shape
        frames, patches = self.num_frames, self._num_patches((None, *input_shape))
        temporal = patches * MultiHeadSelfAttention.multiply_adds((frames, dim))
        temporal_dense = frames * patches * dim * dim
        spatial = frames * MultiHeadSelfAttention.multiply_adds((1 + patches, dim))
        return (
            temporal + temporal_dense + spatial + self._mlp_multiply_adds(tokens, dim)
        )

    def build(self, input_shape):
        num_patches = self._num_patches(input_shape)
        dim = input_shape[-1]
        temporal_shape = (None, self.num_frames, dim)
        spatial_shape = (None, 1 + num_patches, dim)
        self.temporal_norm = self._norm("temporal_norm", temporal_shape)
        self.temporal_attention = self._attention("temporal_attention", temporal_shape)
        self.temporal_dense = self._sublayer(
            keras.layers.Dense(dim, dtype=self.dtype_policy, name="temporal_dense"),
            temporal_shape,
        )
        self.spatial_norm = self._norm("spatial_norm", spatial_shape)
        self.spatial_attention = self._attention("spatial_attention", spatial_shape)
        self._build_mlp(input_shape)

    def call(self, inputs, return_attention_scores=False):
        batch, dim = ops.shape(inputs)[0], ops.shape(inputs)[2]
        frames, patches = self.num_frames, self._num_patches(inputs.shape)
        cls, grid = (
            inputs[:, :1],
            ops.reshape(inputs[:, 1:], (batch, frames, patches, dim)),
        )

        # 1. Time: the tokens of one spatial position, one sequence per (clip, position).
        series = ops.reshape(
            ops.transpose(grid, (0, 2, 1, 3)), (batch * patches, frames, dim)
        )
        attended = self.temporal_attention(
            self.temporal_norm(series), return_attention_scores=return_attention_scores
        )
        if return_attention_scores:
            attended, temporal_maps = attended
        attended = ops.transpose(
            ops.reshape(attended, (batch, patches, frames, dim)), (0, 2, 1, 3)
        )
        grid = grid + self.temporal_dense(attended)

        # 2. Space: the tokens of one frame and a copy of the class token, one sequence per (clip, frame).
        cls_copies = ops.repeat(cls, frames, axis=0)
        frame_tokens = ops.concatenate(
            [cls_copies, ops.reshape(grid, (batch * frames, patches, dim))], axis=1
        )
        attended = self.spatial_attention(
            self.spatial_norm(frame_tokens),
            return_attention_scores=return_attention_scores,
        )
        if return_attention_scores:
            attended, spatial_maps = attended
        attended = ops.reshape(attended, (batch, frames, 1 + patches, dim))
        cls = cls + ops.mean(attended[:, :, :1], axis=1)
        grid = grid + attended[:, :, 1:]

        # 3. The MLP, on every token.
        outputs = self._mlp_residual(
            ops.concatenate(
                [cls, ops.reshape(grid, (batch, frames * patches, dim))], axis=1
            )
        )
        if not return_attention_scores:
            return outputs
        temporal_maps = ops.reshape(
            temporal_maps, (batch, patches, self.num_heads, frames, frames)
        )
        spatial_maps = ops.reshape(
            spatial_maps, (batch, frames, self.num_heads, 1 + patches, 1 + patches)
        )
        return outputs, (temporal_maps, spatial_maps)

    def compute_output_spec(self, inputs, return_attention_scores=False):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        batch, frames, patches = (
            inputs.shape[0],
            self.num_frames,
            self._num_patches(inputs.shape),
        )
        return outputs, (
            keras.KerasTensor(
                (batch, patches, self.num_heads, frames, frames), dtype="float32"
            ),
            keras.KerasTensor(
                (batch, frames, self.num_heads, 1 + patches, 1 + patches),
                dtype="float32",
            ),
        )

    def get_config(self):
        return {**super().get_config(), "num_frames": self.num_frames}
