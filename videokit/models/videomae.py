"""VideoMAE: masked-autoencoder pretraining of a video transformer with tube masking.

Tong, Song, Wang and Wang 2022, "VideoMAE: Masked Autoencoders are
Data-Efficient Learners for Self-Supervised Video Pre-Training"
(https://arxiv.org/abs/2203.12602).

Not registered: `videokit.registry` has a ``"pretraining"`` task name but no
training task for it yet (``videokit/training/pretraining.py``), and the
contract test covers classifiers, predictors and generators only.
"""

import keras
from keras import ops

from videokit.layers.position_embedding import SpaceTimePositionEmbedding
from videokit.layers.tubelet_embedding import TubeletEmbedding
from videokit.layers.video_transformer import TransformerBlock


def tubelets_of(clips, tubelet_size):
    """Cut clips into tubelets, flattened: ``(batch, n_t * n_h * n_w, t * h * w * channels)``.

    In the token order of `videokit.layers.TubeletEmbedding` (time-major).
    """
    t, h, w = tubelet_size
    _, time, height, width, channels = clips.shape
    grid = ops.reshape(
        clips, (-1, time // t, t, height // h, h, width // w, w, channels)
    )
    grid = ops.transpose(grid, (0, 1, 3, 5, 2, 4, 6, 7))
    return ops.reshape(
        grid, (-1, (time // t) * (height // h) * (width // w), t * h * w * channels)
    )


def normalised_tubelets(clips, tubelet_size, epsilon=1e-6):
    """The reconstruction targets: each tubelet's pixels minus their mean, over their standard deviation."""
    tubelets = tubelets_of(clips, tubelet_size)
    mean = ops.mean(tubelets, axis=-1, keepdims=True)
    variance = ops.var(tubelets, axis=-1, keepdims=True)
    return (tubelets - mean) / ops.sqrt(variance + epsilon)


def tube_mask(noise, num_frames, num_visible):
    """Token indices of a tube mask: the same spatial positions hidden in every time step.

    Args:
        noise: float tensor ``(batch, num_patches)``; the ``num_visible``
            positions of lowest noise stay visible.
        num_frames: the number of time steps ``n_t``.
        num_visible: the number of visible spatial positions.

    Returns:
        A pair of int tensors ``(visible, masked)`` of token indices
        ``t * num_patches + s``: ``(batch, num_frames * num_visible)`` and
        ``(batch, num_frames * (num_patches - num_visible))``.
    """
    num_patches = noise.shape[-1]
    order = ops.argsort(noise, axis=-1)
    steps = ops.arange(num_frames, dtype=order.dtype)[:, None] * num_patches

    def tokens(
        positions,
    ):  # (batch, k) spatial positions -> (batch, num_frames * k) tokens
        return ops.reshape(
            steps[None] + positions[:, None, :], (ops.shape(positions)[0], -1)
        )

    return tokens(order[:, :num_visible]), tokens(order[:, num_visible:])


def _gather(tokens, indices):
    return ops.take_along_axis(tokens, ops.expand_dims(indices, -1), axis=1)


@keras.saving.register_keras_serializable(package="videokit")
class VideoMAE(keras.Model):
    """A ViT encoder on the visible tubes of a clip, a light decoder that redraws the hidden ones.

    The clip (pixels in ``[0, 1]``, centred to ``[-1, 1]``) is cut into
    tubelets (`videokit.layers.TubeletEmbedding`) with learned joint
    positions (the paper uses fixed sinusoidal ones). Tube masking hides the
    same ``mask_ratio`` of spatial positions in every time step, so a hidden
    patch cannot be copied from the next frame. The encoder sees only the
    visible tokens; the decoder gets them (projected to ``decoder_dim``)
    followed by one learned mask token per hidden tubelet, each with its
    position, and predicts the hidden tubelets' pixels. The loss is the mean
    squared error on the hidden tubelets only, against their pixels
    normalised per tubelet (zero mean, unit variance).

    Args:
        input_shape: ``(time, height, width, channels)`` of one clip.
        tubelet_size: ``(t, h, w)``: ``(2, 16, 16)`` in the paper.
        embed_dim, depth, num_heads, mlp_dim: the encoder (ViT-B: 768, 12,
            12, 3072).
        decoder_dim, decoder_depth, decoder_heads: the decoder (384, 4, 6 in
            the paper); its MLP is 4 x decoder_dim.
        mask_ratio: the share of spatial positions hidden, 0.9 in the paper.
        seed: seed of the masks.
        **kwargs: standard model arguments such as `name`.

    Call arguments:
        clips: a batch of clips.

    Returns:
        From `call`: ``(predicted, targets)``, both ``(batch, hidden tokens,
        t * h * w * channels)``; `compute_loss` gives the training loss.

    Example:

    >>> mae = VideoMAE((8, 32, 32, 3), tubelet_size=(2, 8, 8), embed_dim=32, depth=1,
    ...                num_heads=2, mlp_dim=64, decoder_dim=16, decoder_depth=1, decoder_heads=2)
    >>> predicted, targets = mae(keras.random.uniform((2, 8, 32, 32, 3)))
    >>> tuple(predicted.shape), mae.num_visible
    ((2, 56, 384), 2)
    """

    def __init__(
        self,
        input_shape,
        tubelet_size=(2, 16, 16),
        embed_dim=768,
        depth=12,
        num_heads=12,
        mlp_dim=3072,
        decoder_dim=384,
        decoder_depth=4,
        decoder_heads=6,
        mask_ratio=0.9,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(
                f"VideoMAE expects 0 < mask_ratio < 1; got mask_ratio={mask_ratio!r}."
            )
        self.clip_shape = tuple(input_shape)
        self.tubelet_size = tuple(tubelet_size)
        self.config = {
            "embed_dim": embed_dim,
            "depth": depth,
            "num_heads": num_heads,
            "mlp_dim": mlp_dim,
            "decoder_dim": decoder_dim,
            "decoder_depth": decoder_depth,
            "decoder_heads": decoder_heads,
            "mask_ratio": mask_ratio,
            "seed": seed,
        }
        self.embedding = TubeletEmbedding(
            embed_dim, self.tubelet_size, name="tubelet_embedding"
        )
        self.n_t, n_h, n_w = self.embedding.grid_shape((None, *self.clip_shape))
        self.num_patches = n_h * n_w
        self.num_visible = max(1, round(self.num_patches * (1 - mask_ratio)))
        self.positions = SpaceTimePositionEmbedding(
            self.n_t, self.num_patches, name="positions"
        )
        self.encoder_blocks = [
            TransformerBlock(num_heads, mlp_dim, name=f"encoder_block{i}")
            for i in range(depth)
        ]
        self.encoder_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, name="encoder_norm"
        )
        self.to_decoder = keras.layers.Dense(decoder_dim, name="to_decoder")
        self.decoder_positions = SpaceTimePositionEmbedding(
            self.n_t, self.num_patches, name="decoder_positions"
        )
        self.decoder_blocks = [
            TransformerBlock(decoder_heads, 4 * decoder_dim, name=f"decoder_block{i}")
            for i in range(decoder_depth)
        ]
        self.decoder_norm = keras.layers.LayerNormalization(
            epsilon=1e-6, name="decoder_norm"
        )
        t, h, w = self.tubelet_size
        self.to_pixels = keras.layers.Dense(
            t * h * w * self.clip_shape[-1], name="to_pixels"
        )
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape=None):
        dim = self.config["decoder_dim"]
        self.mask_token = self.add_weight(
            shape=(1, 1, dim), initializer="zeros", name="mask_token"
        )
        self.decoder_positions.build((None, self.n_t * self.num_patches, dim))
        self.call(
            ops.zeros((1, *self.clip_shape))
        )  # builds every sublayer, also before loading weights
        self.built = True

    def call(self, clips):
        batch = ops.shape(clips)[0]
        tokens = self.positions(self.embedding(clips * 2.0 - 1.0))
        noise = keras.random.uniform(
            (batch, self.num_patches), seed=self.seed_generator
        )
        visible, masked = tube_mask(noise, self.n_t, self.num_visible)
        x = _gather(tokens, visible)
        for block in self.encoder_blocks:
            x = block(x)
        x = self.to_decoder(self.encoder_norm(x))
        table = self.decoder_positions.table()
        hidden = ops.cast(self.mask_token, x.dtype) + ops.take(
            ops.cast(table, x.dtype), masked, axis=0
        )
        x = ops.concatenate(
            [x + ops.take(ops.cast(table, x.dtype), visible, axis=0), hidden], axis=1
        )
        for block in self.decoder_blocks:
            x = block(x)
        predicted = self.to_pixels(self.decoder_norm(x[:, -ops.shape(masked)[1] :]))
        targets = _gather(normalised_tubelets(clips, self.tubelet_size), masked)
        return predicted, ops.stop_gradient(targets)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        predicted, targets = self(x, training=training) if y_pred is None else y_pred
        loss = ops.mean(
            ops.square(ops.cast(predicted, "float32") - ops.cast(targets, "float32"))
        )
        return loss + sum(self.losses) if self.losses else loss

    def get_config(self):
        return {
            "name": self.name,
            "input_shape": self.clip_shape,
            "tubelet_size": self.tubelet_size,
            **self.config,
        }
