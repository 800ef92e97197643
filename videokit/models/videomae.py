"""VideoMAE: masked-autoencoder pretraining of a video transformer with tube masking, and its classifier.

Tong, Song, Wang and Wang 2022, "VideoMAE: Masked Autoencoders are
Data-Efficient Learners for Self-Supervised Video Pre-Training"
(https://arxiv.org/abs/2203.12602).

* `videomae` (registry task ``"pretraining"``) builds `VideoMAE`, the tube-masking
  autoencoder that ``videokit train --model videomae`` trains on unlabelled clips.
* `videomae_classifier` (task ``"classifier"``) is the same encoder on every
  token, mean-pooled, with a linear classifier: the architecture of Hugging
  Face's ``VideoMAEForVideoClassification``, so that its checkpoints import
  exactly (`videokit.weights.videomae`). Its encoder layers have the names and
  weight shapes of `VideoMAE`'s (``tubelet_embedding``, ``positions``,
  ``encoder_block{i}``), so ``videokit train --model videomae_classifier
  --init-from PRETRAINING_RUN`` starts from the pretrained encoder.
"""

import keras
import numpy as np
from keras import ops

from videokit.layers.position_embedding import SpaceTimePositionEmbedding
from videokit.layers.sinusoidal_position_embedding import SinusoidalPositionEmbedding
from videokit.layers.tubelet_embedding import TubeletEmbedding
from videokit.layers.video_transformer import TransformerBlock
from videokit.models import _common

# The normalisation of ImageNet, which VideoMAE's checkpoints expect (Hugging Face's
# VideoMAEImageProcessor: image_mean and image_std).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POSITION_EMBEDDINGS = ("learned", "sinusoidal")


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


def clips_from_tubelets(tubelets, tubelet_size, clip_shape):
    """The inverse of `tubelets_of`: tubelets ``(batch, tokens, t * h * w * channels)`` back to clips.

    Args:
        tubelets: the flattened tubelets, in the token order of `tubelets_of`.
        tubelet_size: ``(t, h, w)``.
        clip_shape: ``(time, height, width, channels)`` of one clip.

    Returns:
        Clips ``(batch, time, height, width, channels)``.
    """
    t, h, w = tubelet_size
    time, height, width, channels = clip_shape
    grid = ops.reshape(tubelets, (-1, time // t, height // h, width // w, t, h, w, channels))
    grid = ops.transpose(grid, (0, 1, 4, 2, 5, 3, 6, 7))
    return ops.reshape(grid, (-1, time, height, width, channels))


def _position_layer(kind, num_frames, num_patches, name):
    """The position embedding of ``num_frames * num_patches`` tokens: learned (joint) or sinusoidal (fixed)."""
    if kind == "learned":
        return SpaceTimePositionEmbedding(num_frames, num_patches, name=name)
    return SinusoidalPositionEmbedding(name=name)


def _check_position_embedding(model, kind):
    if kind not in POSITION_EMBEDDINGS:
        raise ValueError(f"{model} expects position_embedding to be one of {POSITION_EMBEDDINGS}; got {kind!r}.")


def _plain(values):
    """A float, or a list of floats: what a layer's config holds."""
    array = np.asarray(values, dtype="float64")
    return float(array) if array.ndim == 0 else array.tolist()


def pixel_normalisation(mean, std, name="normalization"):
    """``(pixels - mean) / std`` per channel, the checkpoint's input normalisation, as a layer.

    Args:
        mean: a float, or one per channel.
        std: a float, or one per channel.
        name: the layer's name.

    Returns:
        A `keras.layers.Normalization` with nothing to learn.
    """
    return keras.layers.Normalization(mean=_plain(mean), variance=_plain(np.square(std)), name=name)


def _check_tubelets(model, shape, tubelet_size):
    """Check that tubelets ``(t, h, w)`` tile a clip ``shape``, in the one phrasing of `_common`."""
    if any(size % patch for size, patch in zip(shape[:3], tubelet_size)):
        t, h, w = tubelet_size
        raise _common.clip_shape_error(
            model, "input_shape", shape,
            f"time, height and width multiples of {t}, {h} and {w} (the clip is cut into {t}x{h}x{w} tubelets)",
        )


def _check_clip(model, shape, tubelet_size):
    shape = _common.check_clip_shape(model, shape)
    _check_tubelets(model, shape, tuple(tubelet_size))
    return shape


@keras.saving.register_keras_serializable(package="videokit")
class VideoMAE(keras.Model):
    """A ViT encoder on the visible tubes of a clip, a light decoder that redraws the hidden ones.

    The clip (pixels in ``[0, 1]``, normalised by ``(pixels - pixel_mean) /
    pixel_std``) is cut into tubelets (`videokit.layers.TubeletEmbedding`)
    with positions, fixed sinusoidal ones as in the paper
    (`videokit.layers.SinusoidalPositionEmbedding`) or learned ones
    (`videokit.layers.SpaceTimePositionEmbedding`). Tube masking hides the
    same ``mask_ratio`` of spatial positions in every time step, so a hidden
    patch cannot be copied from the next frame. The encoder sees only the
    visible tokens; the decoder gets them (projected to ``decoder_dim``)
    followed by one learned mask token per hidden tubelet, each with its
    position, and predicts the hidden tubelets' pixels. The loss is the mean
    squared error on the hidden tubelets only, against their pixels
    normalised per tubelet (zero mean, unit variance).

    The encoder's layers (``tubelet_embedding``, ``positions``,
    ``encoder_block{i}``, ``encoder_norm``) have the names and weight shapes
    of `videomae_classifier`'s with the same settings.

    Args:
        input_shape: ``(time, height, width, channels)`` of one clip.
        tubelet_size: ``(t, h, w)``: ``(2, 16, 16)`` in the paper.
        embed_dim, depth, num_heads, mlp_dim: the encoder (ViT-B: 768, 12,
            12, 3072).
        decoder_dim, decoder_depth, decoder_heads: the decoder (384, 4, 6 in
            the paper); its MLP is 4 x decoder_dim.
        mask_ratio: the share of spatial positions hidden, 0.9 in the paper.
        position_embedding: ``"learned"`` or ``"sinusoidal"`` (the paper's).
        layer_norm_epsilon: epsilon of the layer normalisations.
        pixel_mean, pixel_std: the input normalisation, a float or one per
            channel (0.5 and 0.5 move pixels to ``[-1, 1]``).
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
        position_embedding="learned",
        layer_norm_epsilon=1e-6,
        pixel_mean=0.5,
        pixel_std=0.5,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(
                f"VideoMAE expects 0 < mask_ratio < 1; got mask_ratio={mask_ratio!r}."
            )
        _check_position_embedding("VideoMAE", position_embedding)
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
            "position_embedding": position_embedding,
            "layer_norm_epsilon": layer_norm_epsilon,
            "pixel_mean": _plain(pixel_mean),
            "pixel_std": _plain(pixel_std),
            "seed": seed,
        }
        self.pixel_mean = np.asarray(pixel_mean, dtype="float32")
        self.pixel_std = np.asarray(pixel_std, dtype="float32")
        self.embedding = TubeletEmbedding(
            embed_dim, self.tubelet_size, name="tubelet_embedding"
        )
        self.n_t, n_h, n_w = self.embedding.grid_shape((None, *self.clip_shape))
        self.num_patches = n_h * n_w
        self.num_visible = max(1, round(self.num_patches * (1 - mask_ratio)))
        self.positions = _position_layer(position_embedding, self.n_t, self.num_patches, "positions")
        self.encoder_blocks = [
            TransformerBlock(num_heads, mlp_dim, layer_norm_epsilon=layer_norm_epsilon, name=f"encoder_block{i}")
            for i in range(depth)
        ]
        self.encoder_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="encoder_norm"
        )
        self.to_decoder = keras.layers.Dense(decoder_dim, name="to_decoder")
        self.decoder_positions = _position_layer(
            position_embedding, self.n_t, self.num_patches, "decoder_positions"
        )
        self.decoder_blocks = [
            TransformerBlock(
                decoder_heads, 4 * decoder_dim, layer_norm_epsilon=layer_norm_epsilon, name=f"decoder_block{i}"
            )
            for i in range(decoder_depth)
        ]
        self.decoder_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="decoder_norm"
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
        noise = keras.random.uniform(
            (ops.shape(clips)[0], self.num_patches), seed=self.seed_generator
        )
        predicted, targets, _ = self.masked_forward(clips, noise)
        return predicted, targets

    def masked_forward(self, clips, noise):
        """The forward pass with the tube mask ``noise`` chooses (see `tube_mask`).

        Returns:
            ``(predicted, targets, masked)``: the predicted and target
            normalised tubelets of the hidden tokens, and the hidden tokens'
            indices ``(batch, hidden tokens)``.
        """
        pixels = (clips - ops.cast(self.pixel_mean, clips.dtype)) / ops.cast(self.pixel_std, clips.dtype)
        tokens = self.positions(self.embedding(pixels))
        visible, masked = tube_mask(noise, self.n_t, self.num_visible)
        x = _gather(tokens, visible)
        for block in self.encoder_blocks:
            x = block(x)
        x = self.to_decoder(self.encoder_norm(x))
        table = ops.cast(self.decoder_positions.table(), x.dtype)
        hidden = ops.cast(self.mask_token, x.dtype) + ops.take(table, masked, axis=0)
        x = ops.concatenate([x + ops.take(table, visible, axis=0), hidden], axis=1)
        for block in self.decoder_blocks:
            x = block(x)
        predicted = self.to_pixels(self.decoder_norm(x[:, -ops.shape(masked)[1] :]))
        targets = _gather(normalised_tubelets(clips, self.tubelet_size), masked)
        return predicted, ops.stop_gradient(targets), masked

    def reconstruct(self, clips, seed=0):
        """Masked input, reconstruction and original of a few clips, as pixels to look at.

        The hidden tubelets are predicted normalised (zero mean, unit
        variance); they are drawn with each tubelet's own mean and standard
        deviation taken from the original, as in the paper's figures. The
        mask is drawn from ``seed``, so that pictures of successive epochs
        hide the same tubes.

        Args:
            clips: NumPy clips ``(batch, time, height, width, channels)`` in ``[0, 1]``.
            seed: the seed of the masks.

        Returns:
            ``(masked_input, reconstruction, original)``, NumPy arrays of the
            clips' shape in ``[0, 1]``; hidden tubes are grey in the masked input.
        """
        clips = np.asarray(clips, dtype="float32")
        if not self.built:
            self.build(clips.shape)
        noise = np.random.default_rng(seed).uniform(size=(len(clips), self.num_patches)).astype("float32")
        predicted, _, masked = self.masked_forward(ops.convert_to_tensor(clips), ops.convert_to_tensor(noise))
        predicted, masked = ops.convert_to_numpy(ops.cast(predicted, "float32")), ops.convert_to_numpy(masked)
        tubelets = ops.convert_to_numpy(tubelets_of(clips, self.tubelet_size))
        mean = tubelets.mean(axis=-1, keepdims=True)
        std = np.sqrt(tubelets.var(axis=-1, keepdims=True) + 1e-6)
        rows = np.arange(len(clips))[:, None]
        reconstruction, hidden = tubelets.copy(), tubelets.copy()
        reconstruction[rows, masked] = predicted * std[rows, masked] + mean[rows, masked]
        hidden[rows, masked] = 0.5

        def as_clips(values):
            return np.clip(ops.convert_to_numpy(clips_from_tubelets(values, self.tubelet_size, self.clip_shape)), 0, 1)

        return as_clips(hidden), as_clips(reconstruction), clips

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


PRETRAINING_PRESETS = {
    # VideoMAE ViT-B pretraining on Kinetics-400 (the paper's table 7; Hugging Face's
    # MCG-NJU/videomae-base): 16 frames at 224x224, 2x16x16 tubelets, encoder 768-d, 12 blocks
    # of 12 heads, MLP 3072; decoder 384-d, 4 blocks of 6 heads; 90% of tubes hidden;
    # fixed sinusoidal positions; ImageNet normalisation.
    "paper": {
        "input_shape": (16, 224, 224, 3),
        "tubelet_size": (2, 16, 16),
        "embed_dim": 768,
        "depth": 12,
        "num_heads": 12,
        "mlp_dim": 3072,
        "decoder_dim": 384,
        "decoder_depth": 4,
        "decoder_heads": 6,
        "mask_ratio": 0.9,
        "position_embedding": "sinusoidal",
        "layer_norm_epsilon": 1e-12,
        "pixel_mean": IMAGENET_MEAN,
        "pixel_std": IMAGENET_STD,
    },
    # Trains in seconds on a CPU, on `videokit.data.moving_shapes(n, num_frames=8, size=32)`;
    # 75% hidden: 4 of the 16 positions of a 32x32 frame stay visible.
    "small": {
        "input_shape": (8, 32, 32, 3),
        "tubelet_size": (2, 8, 8),
        "embed_dim": 32,
        "depth": 2,
        "num_heads": 2,
        "mlp_dim": 64,
        "decoder_dim": 16,
        "decoder_depth": 1,
        "decoder_heads": 2,
        "mask_ratio": 0.75,
        "position_embedding": "sinusoidal",
        "layer_norm_epsilon": 1e-6,
        "pixel_mean": 0.5,
        "pixel_std": 0.5,
    },
}


@_common.uses_presets(PRETRAINING_PRESETS)
def videomae(
    input_shape=None,
    *,
    preset=None,
    tubelet_size=None,
    embed_dim=None,
    depth=None,
    num_heads=None,
    mlp_dim=None,
    decoder_dim=None,
    decoder_depth=None,
    decoder_heads=None,
    mask_ratio=None,
    position_embedding=None,
    layer_norm_epsilon=None,
    pixel_mean=None,
    pixel_std=None,
    seed=None,
    name="videomae",
):
    """Build the VideoMAE autoencoder (Tong et al. 2022) for masked-video pretraining.

    See `VideoMAE` for what it computes; ``videokit train --model videomae``
    trains it on unlabelled clips, and `videomae_classifier` with the same
    encoder settings takes its encoder (``--init-from``).

    Args:
        input_shape: tuple ``(time, height, width, channels)`` of one clip,
            each size a multiple of the tubelet's: ``(16, 224, 224, 3)``
            (paper) or ``(8, 32, 32, 3)`` (small).
        preset: ``None`` (the paper configuration) or ``"small"``;
            arguments given explicitly override it.
        tubelet_size: tuple ``(t, h, w)``: ``(2, 16, 16)`` or ``(2, 8, 8)``.
        embed_dim, depth, num_heads, mlp_dim: the encoder: 768, 12, 12, 3072
            or 32, 2, 2, 64.
        decoder_dim, decoder_depth, decoder_heads: the decoder: 384, 4, 6 or
            16, 1, 2.
        mask_ratio: the share of spatial positions hidden: 0.9 or 0.75.
        position_embedding: ``"sinusoidal"`` (both presets) or ``"learned"``.
        layer_norm_epsilon: 1e-12 (Hugging Face's) or 1e-6.
        pixel_mean, pixel_std: the input normalisation: ImageNet's, or 0.5
            and 0.5.
        seed: seed of the masks.
        name: name of the model.

    Returns:
        A `VideoMAE`, uncompiled.

    Example:

    >>> videomae(preset="small").num_visible
    4
    """
    settings = _common.resolve_preset(
        "videomae", PRETRAINING_PRESETS, preset, input_shape=input_shape, tubelet_size=tubelet_size,
        embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_dim=mlp_dim, decoder_dim=decoder_dim,
        decoder_depth=decoder_depth, decoder_heads=decoder_heads, mask_ratio=mask_ratio,
        position_embedding=position_embedding, layer_norm_epsilon=layer_norm_epsilon, pixel_mean=pixel_mean,
        pixel_std=pixel_std,
    )
    settings["input_shape"] = _check_clip("videomae", settings["input_shape"], settings["tubelet_size"])
    _check_position_embedding("videomae", settings["position_embedding"])
    return VideoMAE(**settings, seed=seed, name=name)


CLASSIFIER_PRESETS = {
    # VideoMAE ViT-B fine-tuned on Kinetics-400, as Hugging Face's
    # MCG-NJU/videomae-base-finetuned-kinetics (image_size 224, num_frames 16, tubelet_size 2,
    # patch_size 16, hidden_size 768, 12 layers and heads, intermediate_size 3072, qkv_bias,
    # layer_norm_eps 1e-12, use_mean_pooling): 86,534,800 parameters there, 86,544,016 here
    # (the keys' biases, which Hugging Face's model does not have, are imported as zeros).
    "paper": {
        "input_shape": (16, 224, 224, 3),
        "num_classes": 400,
        "tubelet_size": (2, 16, 16),
        "embed_dim": 768,
        "depth": 12,
        "num_heads": 12,
        "mlp_dim": 3072,
        "position_embedding": "sinusoidal",
        "use_mean_pooling": True,
        "layer_norm_epsilon": 1e-12,
        "pixel_mean": IMAGENET_MEAN,
        "pixel_std": IMAGENET_STD,
    },
    # The encoder of `videomae(preset="small")`, for --init-from a small pretraining run.
    "small": {
        "input_shape": (8, 32, 32, 3),
        "num_classes": 8,
        "tubelet_size": (2, 8, 8),
        "embed_dim": 32,
        "depth": 2,
        "num_heads": 2,
        "mlp_dim": 64,
        "position_embedding": "sinusoidal",
        "use_mean_pooling": True,
        "layer_norm_epsilon": 1e-6,
        "pixel_mean": 0.5,
        "pixel_std": 0.5,
    },
}


def _first_token(tokens):
    """The first token's state ``(batch, embed_dim)`` of ``(batch, tokens, embed_dim)``."""
    first = keras.layers.Cropping1D((0, tokens.shape[1] - 1), name="first_token")(tokens)
    return keras.layers.Flatten(name="first_token_state")(first)


def _mean_pooled(tokens):
    """The tokens' mean, layer-normalised (Hugging Face's ``fc_norm``, epsilon 1e-5)."""
    pooled = keras.layers.GlobalAveragePooling1D(name="mean_pool")(tokens)
    return keras.layers.LayerNormalization(epsilon=1e-5, name="fc_norm")(pooled)


@_common.uses_presets(CLASSIFIER_PRESETS)
@_common.with_args_doc(_common.HEAD_ARGS_DOC)
def videomae_classifier(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    tubelet_size=None,
    embed_dim=None,
    depth=None,
    num_heads=None,
    mlp_dim=None,
    position_embedding=None,
    use_mean_pooling=None,
    layer_norm_epsilon=None,
    pixel_mean=None,
    pixel_std=None,
    name="videomae_classifier",
):
    """Build VideoMAE's video classifier: its ViT encoder on every tubelet, mean-pooled.

    The architecture of Hugging Face's ``VideoMAEForVideoClassification``:
    pixels normalised by ``(pixels - pixel_mean) / pixel_std``, cut into
    tubelets (`videokit.layers.TubeletEmbedding`), fixed sinusoidal positions
    added (`videokit.layers.SinusoidalPositionEmbedding`), ``depth`` pre-norm
    `videokit.layers.TransformerBlock` (exact GELU; the keys' bias is zero
    in imported checkpoints, which have none), then either the mean of all
    tokens through a layer normalisation (``use_mean_pooling``, the
    fine-tuned checkpoints') or a final layer normalisation and the first
    token, and a linear classifier. The paper configuration has 86,544,016
    parameters: Hugging Face's 86,534,800 and the keys' 9,216 biases. With the same encoder settings, its layers
    ``tubelet_embedding``, ``positions`` and ``encoder_block{i}`` are those
    of `videomae`, whose pretrained weights ``--init-from`` copies.

    Args:
        input_shape: tuple ``(time, height, width, channels)`` of one clip,
            each size a multiple of the tubelet's: ``(16, 224, 224, 3)``
            (paper) or ``(8, 32, 32, 3)`` (small).
        num_classes: int: 400 (Kinetics-400, paper) or 8 (small).
        preset: ``None`` (the paper configuration) or ``"small"``;
            arguments given explicitly override it.
        tubelet_size: tuple ``(t, h, w)``: ``(2, 16, 16)`` or ``(2, 8, 8)``.
        embed_dim: int, the size of the tokens: 768 or 32.
        depth: int, the number of blocks: 12 or 2.
        num_heads: int, attention heads of every block: 12 or 2.
        mlp_dim: int, the hidden size of the blocks' MLP: 3072 or 64.
        position_embedding: ``"sinusoidal"`` (both presets) or ``"learned"``.
        use_mean_pooling: bool, classify the mean of the tokens (true in both
            presets) or the first token after a final layer normalisation.
        layer_norm_epsilon: the blocks' layer normalisations: 1e-12 or 1e-6.
        pixel_mean, pixel_std: the input normalisation, a float or one per
            channel: ImageNet's, or 0.5 and 0.5.
        name: name of the model.

    Returns:
        A `keras.Model` mapping clips ``(batch, time, height, width, channels)``
        of pixels in ``[0, 1]`` to class probabilities ``(batch, num_classes)``
        in float32; with ``include_top=False``, to the encoder's tokens
        ``(batch, n_t * n_h * n_w, embed_dim)``.

    Example:

    >>> videomae_classifier(preset="small").output_shape
    (None, 8)
    """
    settings = _common.resolve_preset(
        "videomae_classifier", CLASSIFIER_PRESETS, preset, input_shape=input_shape, num_classes=num_classes,
        tubelet_size=tubelet_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_dim=mlp_dim,
        position_embedding=position_embedding, use_mean_pooling=use_mean_pooling,
        layer_norm_epsilon=layer_norm_epsilon, pixel_mean=pixel_mean, pixel_std=pixel_std,
    )
    tubelet = tuple(settings["tubelet_size"])
    shape = _check_clip("videomae_classifier", settings["input_shape"], tubelet)
    _check_position_embedding("videomae_classifier", settings["position_embedding"])
    _common.check_head(
        "videomae_classifier", include_top=include_top, pooling=pooling, num_classes=settings["num_classes"]
    )
    n_t, n_h, n_w = (size // patch for size, patch in zip(shape[:3], tubelet))
    epsilon = settings["layer_norm_epsilon"]

    clips = _common.clip_input(shape)
    x = pixel_normalisation(settings["pixel_mean"], settings["pixel_std"])(clips)
    x = TubeletEmbedding(settings["embed_dim"], tubelet, name="tubelet_embedding")(x)
    x = _position_layer(settings["position_embedding"], n_t, n_h * n_w, "positions")(x)
    for index in range(settings["depth"]):
        x = TransformerBlock(
            settings["num_heads"], settings["mlp_dim"], layer_norm_epsilon=epsilon, name=f"encoder_block{index}"
        )(x)
    if settings["use_mean_pooling"]:
        top = _mean_pooled
    else:
        x = keras.layers.LayerNormalization(epsilon=epsilon, name="encoder_norm")(x)
        top = _first_token
    outputs = _common.classifier_head(
        x, top=top, include_top=include_top, pooling=pooling, num_classes=settings["num_classes"],
        classifier_activation=classifier_activation,
    )
    return keras.Model(clips, outputs, name=name)
