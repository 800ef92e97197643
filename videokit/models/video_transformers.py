"""Video transformers: ViViT's factorised encoder and TimeSformer.

* `vivit`: Arnab, Dehghani, Heigold, Sun, Lučić and Schmid 2021, "ViViT: A
  Video Vision Transformer" (https://arxiv.org/abs/2103.15691), section 3.3,
  model 2 (factorised encoder): a spatial transformer per time step, then a
  temporal one.
* `timesformer`: Bertasius, Wang and Torresani 2021, "Is Space-Time Attention
  All You Need for Video Understanding?" (https://arxiv.org/abs/2102.05095):
  divided space-time attention, time then space in every block.

Both cut clips into tubelets (`videokit.layers.TubeletEmbedding`), put a class
token in front (`videokit.layers.ClassToken`), add learned positions
(`videokit.layers.SpaceTimePositionEmbedding`) and classify from the class
token's final state.
"""

import numbers

import keras

from videokit.layers.class_token import ClassToken
from videokit.layers.position_embedding import SpaceTimePositionEmbedding
from videokit.layers.tubelet_embedding import TubeletEmbedding
from videokit.layers.video_transformer import DividedSpaceTimeBlock, TransformerBlock
from videokit.models import _common


def _check_tubelets(model, shape, tubelet_size):
    """Check that tubelets ``(t, h, w)`` tile a clip ``shape``, in the one phrasing of `_common`.

    Raises:
        ValueError: a clip size that is not a positive multiple of the
            tubelet's along time, height or width.
    """
    t, h, w = tubelet_size
    if any(size % patch for size, patch in zip(shape[:3], tubelet_size)):
        raise _common.clip_shape_error(
            model,
            "input_shape",
            shape,
            f"time, height and width multiples of {t}, {h} and {w} "
            f"(the clip is cut into {t}x{h}x{w} tubelets)",
        )


def _zero_centred(clips):
    """Pixels in ``[0, 1]`` moved to ``[-1, 1]``, as Scenic's ``zero_centering``.

    Without it the tokens of different clips share a large common part (the
    mean brightness), and the small presets stay at chance for many epochs.
    """
    return keras.layers.Rescaling(2.0, offset=-1.0, name="zero_centering")(clips)


def _normalised(model, clips, mean, std):
    """``(clips - mean) / std`` per channel, or `_zero_centred` when both are ``None``.

    Raises:
        ValueError: only one of them given, a standard deviation that is not
            positive, or not one value (or one per channel) each.
    """
    if mean is None and std is None:
        return _zero_centred(clips)
    channels = clips.shape[-1]

    def per_channel(argument, value):
        values = [float(value)] * channels if isinstance(value, numbers.Real) else value
        if values is None or len(values) != channels:
            raise ValueError(
                f"{model} expects pixel_mean and pixel_std to be both given, each a float or "
                f"{channels} floats (one per channel); got {argument}={value!r}."
            )
        return [float(v) for v in values]

    mean, std = per_channel("pixel_mean", mean), per_channel("pixel_std", std)
    if min(std) <= 0:
        raise ValueError(f"{model} expects pixel_std to be positive; got pixel_std={std!r}.")
    return keras.layers.Normalization(
        mean=mean, variance=[value**2 for value in std], name="pixel_normalization"
    )(clips)


def _class_token_readout(tokens):
    """The class token's state ``(batch, embed_dim)``: the first of ``(batch, tokens, embed_dim)``."""
    length = tokens.shape[1]
    first = keras.layers.Cropping1D((0, length - 1), name="class_token")(tokens)
    return keras.layers.Flatten(name="class_token_state")(first)


VIVIT_PRESETS = {
    # ViViT-B/16x2 factorised encoder on Kinetics-400, as Scenic's
    # configs/kinetics400/vivit_base_factorised_encoder.py: 32 frames at 224x224,
    # 2x16x16 tubelets, hidden size 768, 12 spatial and 4 temporal layers of 12 heads,
    # MLP 3072, class tokens ("token" classifier): 115,062,928 parameters.
    "paper": {
        "input_shape": (32, 224, 224, 3),
        "num_classes": 400,
        "tubelet_size": (2, 16, 16),
        "embed_dim": 768,
        "spatial_depth": 12,
        "temporal_depth": 4,
        "num_heads": 12,
        "mlp_dim": 3072,
    },
    # Trains in seconds on a CPU, on `videokit.data.moving_shapes(n, num_frames=8, size=32)`.
    "small": {
        "input_shape": (8, 32, 32, 3),
        "num_classes": 8,
        "tubelet_size": (2, 8, 8),
        "embed_dim": 32,
        "spatial_depth": 2,
        "temporal_depth": 2,
        "num_heads": 2,
        "mlp_dim": 64,
    },
}


def _encoder(x, settings, depth, num_frames, num_patches, name):
    """ViT's encoder: a class token, joint positions, ``depth`` blocks, a layer normalisation."""
    x = ClassToken(name=f"{name}_class_token")(x)
    x = SpaceTimePositionEmbedding(
        num_frames,
        num_patches,
        mode="joint",
        class_token=True,
        name=f"{name}_positions",
    )(x)
    for index in range(depth):
        x = TransformerBlock(
            settings["num_heads"], settings["mlp_dim"], name=f"{name}_block{index}"
        )(x)
    return keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm")(x)


def _spatial_encoder(settings, num_patches):
    """The spatial transformer, one frame's tokens to its class token's state, as a model."""
    tokens = keras.Input((num_patches, settings["embed_dim"]), name="frame_tokens")
    x = _encoder(tokens, settings, settings["spatial_depth"], 1, num_patches, "spatial")
    return keras.Model(tokens, _class_token_readout(x), name="spatial_encoder")


@_common.uses_presets(VIVIT_PRESETS)
@_common.with_args_doc(_common.HEAD_ARGS_DOC)
def vivit(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    tubelet_size=None,
    embed_dim=None,
    spatial_depth=None,
    temporal_depth=None,
    num_heads=None,
    mlp_dim=None,
    name="vivit",
):
    """Build ViViT's factorised encoder (Arnab et al. 2021, model 2).

    The clip is cut into ``t x h x w`` tubelets, each projected to a token
    (`videokit.layers.TubeletEmbedding`). The spatial encoder, one ViT
    shared by every time step, sees the ``n_h * n_w`` tokens of one time
    step behind a class token, with learned positions
    (`videokit.layers.SpaceTimePositionEmbedding`), through
    ``spatial_depth`` `videokit.layers.TransformerBlock` and a layer
    normalisation; its class token's state stands for that time step. The
    temporal encoder, a second ViT, does the same over the ``n_t`` time
    steps, and the classifier reads its class token. Space and time meet
    only there: attention costs ``n_t (n_h n_w)^2 + n_t^2`` instead of
    ``(n_t n_h n_w)^2``. The paper configuration has 115,062,928 parameters.

    Args:
        input_shape: tuple ``(time, height, width, channels)`` of one clip,
            each size a multiple of the tubelet's. Default from the preset:
            ``(32, 224, 224, 3)`` (paper) or ``(8, 32, 32, 3)`` (small).
        num_classes: int: 400 (Kinetics-400, paper) or 8 (small).
        preset: ``None`` (the paper configuration) or ``"small"``;
            arguments given explicitly override it.
        tubelet_size: tuple ``(t, h, w)``: ``(2, 16, 16)`` or ``(2, 8, 8)``.
        embed_dim: int, the size of the tokens: 768 or 32.
        spatial_depth: int, blocks of the spatial encoder: 12 or 2.
        temporal_depth: int, blocks of the temporal encoder: 4 or 2.
        num_heads: int, attention heads of every block: 12 or 2.
        mlp_dim: int, the hidden size of the blocks' MLP: 3072 or 64.
        name: name of the model.

    Returns:
        A `keras.Model` mapping clips ``(batch, time, height, width, channels)``
        of pixels in ``[0, 1]`` (moved to ``[-1, 1]`` inside, as Scenic does)
        to class probabilities ``(batch, num_classes)`` in float32; with
        ``include_top=False``, to the temporal encoder's normalised tokens
        ``(batch, 1 + n_t, embed_dim)``, the class token first.

    Example:

    >>> vivit(preset="small").output_shape
    (None, 8)
    """
    settings = _common.resolve_preset(
        "vivit",
        VIVIT_PRESETS,
        preset,
        input_shape=input_shape,
        num_classes=num_classes,
        tubelet_size=tubelet_size,
        embed_dim=embed_dim,
        spatial_depth=spatial_depth,
        temporal_depth=temporal_depth,
        num_heads=num_heads,
        mlp_dim=mlp_dim,
    )
    shape = _common.check_clip_shape("vivit", settings["input_shape"])
    tubelet = tuple(settings["tubelet_size"])
    _check_tubelets("vivit", shape, tubelet)
    _common.check_head(
        "vivit",
        include_top=include_top,
        pooling=pooling,
        num_classes=settings["num_classes"],
    )
    n_t, n_h, n_w = (size // patch for size, patch in zip(shape[:3], tubelet))
    dim = settings["embed_dim"]

    clips = _common.clip_input(shape)
    x = TubeletEmbedding(dim, tubelet, name="tubelet_embedding")(_zero_centred(clips))
    x = keras.layers.Reshape((n_t, n_h * n_w, dim), name="tokens_per_time_step")(x)
    x = keras.layers.TimeDistributed(
        _spatial_encoder(settings, n_h * n_w), name="spatial"
    )(x)
    x = _encoder(x, settings, settings["temporal_depth"], n_t, 1, "temporal")
    outputs = _common.classifier_head(
        x,
        top=_class_token_readout,
        include_top=include_top,
        pooling=pooling,
        num_classes=settings["num_classes"],
        classifier_activation=classifier_activation,
    )
    return keras.Model(clips, outputs, name=name)


TIMESFORMER_PRESETS = {
    # TimeSformer-B on Kinetics-400, as Hugging Face's facebook/timesformer-base-finetuned-k400
    # (image_size 224, patch_size 16, num_frames 8, hidden_size 768, 12 layers and heads,
    # intermediate_size 3072, attention_type "divided_space_time"): 121,566,352 parameters.
    "paper": {
        "input_shape": (8, 224, 224, 3),
        "num_classes": 400,
        "patch_size": 16,
        "embed_dim": 768,
        "depth": 12,
        "num_heads": 12,
        "mlp_dim": 3072,
    },
    # Trains in seconds on a CPU, on `videokit.data.moving_shapes(n, num_frames=8, size=32)`.
    "small": {
        "input_shape": (8, 32, 32, 3),
        "num_classes": 8,
        "patch_size": 8,
        "embed_dim": 32,
        "depth": 2,
        "num_heads": 2,
        "mlp_dim": 64,
    },
}


@_common.uses_presets(TIMESFORMER_PRESETS)
@_common.with_args_doc(_common.HEAD_ARGS_DOC)
def timesformer(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    patch_size=None,
    embed_dim=None,
    depth=None,
    num_heads=None,
    mlp_dim=None,
    pixel_mean=None,
    pixel_std=None,
    layer_norm_epsilon=1e-6,
    name="timesformer",
):
    """Build TimeSformer (Bertasius et al. 2021) with divided space-time attention.

    Every frame is cut into ``patch_size x patch_size`` patches, each
    projected to a token (`videokit.layers.TubeletEmbedding` with tubelets
    one frame long); a class token goes in front, and every token gets a
    learned position: a spatial one plus a temporal one, the class token its
    own (`videokit.layers.SpaceTimePositionEmbedding`, ``"separable"``).
    ``depth`` `videokit.layers.DividedSpaceTimeBlock` follow: attention over
    time among the tokens of one position, then over space among the tokens
    of one frame, then an MLP. A final layer normalisation, and the
    classifier reads the class token. The paper configuration has
    121,566,352 parameters, as the reference implementation's
    ``facebook/timesformer-base-finetuned-k400`` (table 1 of the paper
    says 121.4M), and 195.8 G multiply-adds per clip (the paper: 196 G).

    Args:
        input_shape: tuple ``(time, height, width, channels)`` of one clip;
            height and width multiples of ``patch_size``. Default from the
            preset: ``(8, 224, 224, 3)`` (paper) or ``(8, 32, 32, 3)``.
        num_classes: int: 400 (Kinetics-400, paper) or 8 (small).
        preset: ``None`` (the paper configuration) or ``"small"``;
            arguments given explicitly override it.
        patch_size: int, the side of the square patches: 16 or 8.
        embed_dim: int, the size of the tokens: 768 or 32.
        depth: int, the number of blocks: 12 or 2.
        num_heads: int, attention heads per attention: 12 or 2.
        mlp_dim: int, the hidden size of the blocks' MLP: 3072 or 64.
        pixel_mean: ``None``, or the per-channel mean (a float or one float
            per channel) that the model subtracts from the pixels as its first
            step, as a pretrained checkpoint's preprocessing does (0.45 for
            Hugging Face's ``facebook/timesformer-*``). ``None``: the pixels
            are moved from ``[0, 1]`` to ``[-1, 1]``, as Scenic does.
        pixel_std: with ``pixel_mean``, the per-channel standard deviation
            the centred pixels are divided by (0.225 for ``facebook/timesformer-*``).
        layer_norm_epsilon: float, the epsilon of every layer normalisation
            (1e-6, as the reference implementation's ``layer_norm_eps``).
        name: name of the model.

    Returns:
        A `keras.Model` mapping clips ``(batch, time, height, width, channels)``
        of pixels in ``[0, 1]`` (moved to ``[-1, 1]`` inside, as Scenic does,
        or normalised with ``pixel_mean`` and ``pixel_std``) to class
        probabilities ``(batch, num_classes)`` in float32; with
        ``include_top=False``, to the normalised tokens ``(batch, 1 + time *
        patches, embed_dim)``, the class token first.

    Example:

    >>> timesformer(preset="small").output_shape
    (None, 8)
    """
    settings = _common.resolve_preset(
        "timesformer",
        TIMESFORMER_PRESETS,
        preset,
        input_shape=input_shape,
        num_classes=num_classes,
        patch_size=patch_size,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        mlp_dim=mlp_dim,
    )
    shape = _common.check_clip_shape("timesformer", settings["input_shape"])
    patch = settings["patch_size"]
    _check_tubelets("timesformer", shape, (1, patch, patch))
    _common.check_head(
        "timesformer",
        include_top=include_top,
        pooling=pooling,
        num_classes=settings["num_classes"],
    )
    frames, patches = shape[0], (shape[1] // patch) * (shape[2] // patch)

    clips = _common.clip_input(shape)
    x = TubeletEmbedding(
        settings["embed_dim"], (1, patch, patch), name="patch_embedding"
    )(_normalised("timesformer", clips, pixel_mean, pixel_std))
    x = ClassToken(name="add_class_token")(x)
    x = SpaceTimePositionEmbedding(
        frames, patches, mode="separable", class_token=True, name="position_embedding"
    )(x)
    for index in range(settings["depth"]):
        x = DividedSpaceTimeBlock(
            settings["num_heads"],
            settings["mlp_dim"],
            num_frames=frames,
            layer_norm_epsilon=layer_norm_epsilon,
            name=f"block{index}",
        )(x)
    x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="final_norm")(x)
    outputs = _common.classifier_head(
        x,
        top=_class_token_readout,
        include_top=include_top,
        pooling=pooling,
        num_classes=settings["num_classes"],
        classifier_activation=classifier_activation,
    )
    return keras.Model(clips, outputs, name=name)
