"""CNN-RNN video classifiers: a 2D CNN per frame, a recurrent layer (LSTM or GRU) over time."""

import keras

from videokit.layers.attention import TemporalAttentionPooling
from videokit.models import _common

PRESETS = {
    # Close to the sizes of LRCN (Donahue et al. 2015) on UCF101: 16 frames of
    # 112x112, a wide CNN and a 256-unit LSTM. Meant for a GPU.
    "paper": {
        "input_shape": (16, 112, 112, 3),
        "num_classes": 101,
        "filters": (64, 128, 256, 256),
        "rnn_units": 256,
        "dropout": 0.5,
        "frame_pooling": "average",
    },
    # Trains in seconds on a CPU: 8 frames of 32x32, two narrow conv blocks.
    "small": {
        "input_shape": (8, 32, 32, 3),
        "num_classes": 8,
        "filters": (8, 16),
        "rnn_units": 32,
        "dropout": 0.0,
        "frame_pooling": "flatten",
    },
}

_RNN_LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
_POOLINGS = ("last", "attention")
_FRAME_POOLINGS = ("flatten", "average")


@_common.uses_presets(PRESETS)
def cnn_lstm(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    backbone=None,
    filters=None,
    rnn="lstm",
    rnn_units=None,
    pooling="last",
    frame_pooling=None,
    dropout=None,
    name="cnn_lstm",
):
    """Builds a CNN + LSTM (LRCN-style) video classifier.

    The same 2D CNN encodes every frame into a feature vector
    (`TimeDistributed`), a recurrent layer (LSTM or GRU) reads the sequence of
    frame features, and a softmax layer classifies the clip from the last
    recurrent state (`pooling="last"`) or from an attention-weighted average of
    all its states (`pooling="attention"`, see `TemporalAttentionPooling`).

    The default frame CNN is trained from scratch: one block per entry of
    `filters` (Conv2D 3x3, BatchNormalization, ReLU, 2x2 MaxPooling), then
    the last feature map is flattened (`frame_pooling="flatten"`) or averaged
    over space (`"average"`). Flattening keeps *where* things are in the
    frame, which the recurrent layer needs to tell moving left from moving
    right; global averaging throws positions away (it is translation
    invariant), which is fine for recognising *what* is in a frame but leaves
    the LSTM blind to the direction of motion. Any `keras.Model` that maps one frame to features
    can replace it through `backbone`, e.g.
    `keras.applications.MobileNetV3Small(weights=None, include_top=False,
    pooling="avg", input_shape=(112, 112, 3))`. videokit never downloads
    weights: build the backbone with `weights=None` or a path to a local
    weights file. Set `backbone.trainable = False` to keep it frozen.

    Arguments left as `None` take their value from `preset` (the paper
    configuration when `preset` is `None`); explicit arguments always win.

    Args:
        input_shape: Clip shape `(time, height, width, channels)`; `time` may
            be `None`. Default from the preset: `(16, 112, 112, 3)` (paper) or `(8, 32, 32, 3)` (small).
        num_classes: Number of classes: 101 (paper, UCF101) or 8 (small, as
            `videokit.data.moving_shapes`).
        preset: `None` (the paper configuration: LRCN-like sizes, for a GPU)
            or `"small"` (8x32x32 clips, trains in seconds on a CPU).
        classifier_activation: Activation of the `"predictions"` layer,
            `"softmax"` or `None` for logits. It computes in float32, also
            under a mixed precision policy.
        include_top: Whether to end in the classifier; without it the model
            returns the pooled recurrent state `(batch, rnn_units)`.
        backbone: Optional `keras.Model` mapping a frame `(height, width,
            channels)` to a feature vector `(features,)` (or to a feature map,
            which is then averaged over space). Replaces the default CNN.
        filters: Filters of the conv blocks of the default CNN, one block per
            entry: `(64, 128, 256, 256)` (paper) or `(8, 16)` (small).
            Ignored with `backbone`.
        rnn: `"lstm"` or `"gru"`.
        rnn_units: Size of the recurrent state: 256 (paper) or 32 (small).
        pooling: How the recurrent states become one vector, over time:
            `"last"` (last recurrent state) or `"attention"`. (Not the
            spatial `pooling` of the other classifiers: these features are
            already vectors.)
        frame_pooling: `"flatten"` or `"average"`, how the default CNN turns
            its last feature map into a frame's features: `"average"`
            (paper) or `"flatten"` (small).
        dropout: Dropout rate on the frame features and before the
            classifier: 0.5 (paper) or 0 (small).
        name: Name of the model.

    Input shape:
        `(batch, time, height, width, channels)` float frames, e.g. scaled to
        `[0, 1]` (a Keras application backbone may expect `[0, 255]`).

    Output shape:
        `(batch, num_classes)` class probabilities, float32 also under a mixed
        precision policy; with `include_top=False`, `(batch, rnn_units)`.

    Returns:
        A functional `keras.Model`.

    Example:

    >>> model = cnn_lstm(preset="small", num_classes=4, pooling="attention")
    >>> model.output_shape
    (None, 4)
    >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])

    With `pooling="attention"`, the second output of the attention layer holds
    its weights over the frames, e.g. to plot which frames the model looks at:

    >>> weights = model.get_layer("attention_pooling").output[1]
    >>> keras.Model(model.input, weights).output_shape
    (None, 8)
    """
    settings = _common.resolve_preset(
        "cnn_lstm", PRESETS, preset, input_shape=input_shape, num_classes=num_classes, filters=filters,
        rnn_units=rnn_units, dropout=dropout, frame_pooling=frame_pooling,
    )
    clip_shape = _common.check_clip_shape("cnn_lstm", settings["input_shape"], unknown=("time",))
    _common.check_head("cnn_lstm", include_top=include_top, pooling=None, num_classes=settings["num_classes"])
    if rnn not in _RNN_LAYERS:
        raise ValueError(f"cnn_lstm expects rnn to be one of {sorted(_RNN_LAYERS)}; got {rnn!r}.")
    if pooling not in _POOLINGS:
        raise ValueError(f"cnn_lstm expects pooling to be one of {_POOLINGS}; got {pooling!r}.")
    if settings["frame_pooling"] not in _FRAME_POOLINGS:
        raise ValueError(
            f"cnn_lstm expects frame_pooling to be one of {_FRAME_POOLINGS}; got {settings['frame_pooling']!r}."
        )

    frame_shape = clip_shape[1:]
    if backbone is None:
        encoder = _frame_encoder(frame_shape, settings["filters"], settings["frame_pooling"])
    else:
        encoder = _wrap_backbone(backbone, frame_shape)

    clips = _common.clip_input(clip_shape)
    features = keras.layers.TimeDistributed(encoder, name="frame_features")(clips)
    features = _maybe_dropout(features, settings["dropout"], "feature_dropout")
    states = _RNN_LAYERS[rnn](
        settings["rnn_units"], return_sequences=pooling == "attention", name=rnn
    )(features)
    if pooling == "attention":
        states, _ = TemporalAttentionPooling(
            units=settings["rnn_units"], return_attention=True, name="attention_pooling"
        )(states)
    outputs = _common.classifier_head(
        states,
        top=lambda x: _maybe_dropout(x, settings["dropout"], "classifier_dropout"),
        include_top=include_top,
        pooling=None,
        num_classes=settings["num_classes"],
        classifier_activation=classifier_activation,
    )
    return keras.Model(clips, outputs, name=name)


def _maybe_dropout(tensor, rate, name):
    return keras.layers.Dropout(rate, name=name)(tensor) if rate else tensor


def _frame_encoder(frame_shape, filters, frame_pooling):
    frames = keras.Input(shape=frame_shape, name="frame")
    x = frames
    for index, block_filters in enumerate(filters):
        x = keras.layers.Conv2D(block_filters, 3, padding="same", use_bias=False, name=f"conv{index}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{index}")(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
    if frame_pooling == "flatten":
        features = keras.layers.Flatten(name="flatten")(x)
    else:
        features = keras.layers.GlobalAveragePooling2D(name="average")(x)
    return keras.Model(frames, features, name="frame_encoder")


def _wrap_backbone(backbone, frame_shape):
    backbone_frame_shape = tuple(backbone.input_shape[1:])
    compatible = len(backbone_frame_shape) == len(frame_shape) and all(
        expected is None or expected == actual for expected, actual in zip(backbone_frame_shape, frame_shape)
    )
    if not compatible:
        raise ValueError(
            f"cnn_lstm expects a backbone taking frames of shape {frame_shape} "
            f"(height, width, channels of input_shape); the backbone takes {backbone_frame_shape}."
        )
    if len(backbone.output_shape) == 2:
        return backbone
    if len(backbone.output_shape) != 4:
        raise ValueError(
            "cnn_lstm expects a backbone returning features (batch, features) or a feature map "
            f"(batch, height, width, channels); the backbone returns {backbone.output_shape}."
        )
    frames = keras.Input(shape=frame_shape, name="frame")
    features = keras.layers.GlobalAveragePooling2D(name="average")(backbone(frames))
    return keras.Model(frames, features, name="frame_encoder")
