import keras
import numpy as np
import pytest

from videokit.data import moving_shapes
from videokit.models import cnn_lstm
from tests.conftest import SLOW_ON_JAX, assert_keras_file_round_trip

CLIP_SHAPE = (4, 24, 24, 3)


@pytest.fixture
def clips():
    return np.random.default_rng(0).random((2, *CLIP_SHAPE), dtype="float32")


def tiny_cnn_lstm(**kwargs):
    return cnn_lstm(CLIP_SHAPE, num_classes=3, **{"preset": "small", "filters": (4,), "rnn_units": 6, **kwargs})


@pytest.fixture(scope="module")
def attention_gru():
    keras.utils.set_random_seed(0)
    return tiny_cnn_lstm(rnn="gru", pooling="attention", dropout=0.2)


def assert_class_probabilities(model, clips):
    probabilities = model.predict(clips, verbose=0)
    assert model.output_shape == (None, 3)
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_lstm_last_state_gives_class_probabilities(clips):
    model = tiny_cnn_lstm()
    assert isinstance(model.get_layer("lstm"), keras.layers.LSTM)
    assert_class_probabilities(model, clips)


def test_gru_with_attention_gives_class_probabilities(clips, attention_gru):
    assert isinstance(attention_gru.get_layer("gru"), keras.layers.GRU)
    assert attention_gru.get_layer("feature_dropout").rate == 0.2
    assert_class_probabilities(attention_gru, clips)


def test_attention_weights_can_be_read_from_the_model(clips, attention_gru):
    weights = attention_gru.get_layer("attention_pooling").output[1]
    weights = keras.Model(attention_gru.input, weights).predict(clips, verbose=0)
    assert weights.shape == (2, CLIP_SHAPE[0])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)


def test_small_preset_builds_and_explicit_arguments_override_it():
    small = cnn_lstm(preset="small")
    assert small.input_shape == (None, 8, 32, 32, 3)
    assert small.get_layer("lstm").units == 32
    overridden = cnn_lstm((4, 24, 24, 3), preset="small", dropout=0.25)
    assert overridden.input_shape == (None, 4, 24, 24, 3)
    assert overridden.get_layer("lstm").units == 32
    assert overridden.get_layer("classifier_dropout").rate == 0.25


@pytest.mark.parametrize("frame_pooling, num_features", [("flatten", 12 * 12 * 4), ("average", 4)])
def test_frame_pooling_sets_the_size_of_the_frame_features(frame_pooling, num_features):
    model = tiny_cnn_lstm(frame_pooling=frame_pooling)
    assert model.get_layer("frame_features").output.shape == (None, CLIP_SHAPE[0], num_features)


@SLOW_ON_JAX
def test_paper_preset_builds():
    paper = cnn_lstm(preset="paper", num_classes=101)
    assert paper.input_shape == (None, 16, 112, 112, 3)
    assert paper.output_shape == (None, 101)
    assert paper.get_layer("lstm").units == 256


def test_custom_backbone_replaces_the_frame_cnn(clips):
    frames = keras.Input(CLIP_SHAPE[1:])
    feature_map = keras.layers.Conv2D(5, 3, strides=4, activation="relu")(frames)
    backbone = keras.Model(frames, feature_map, name="tiny_backbone")  # a map: pooled by cnn_lstm
    model = tiny_cnn_lstm(backbone=backbone)
    assert model.get_layer("frame_features").output.shape == (None, CLIP_SHAPE[0], 5)
    assert model.predict(clips, verbose=0).shape == (2, 3)


@SLOW_ON_JAX
def test_keras_application_backbone_without_weights():
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), include_top=False, weights=None, pooling="avg", minimalistic=True
    )
    model = cnn_lstm((2, 32, 32, 3), num_classes=4, preset="small", backbone=backbone, rnn_units=4)
    assert model.output_shape == (None, 4)


def test_rejects_a_backbone_for_other_frames():
    frames = keras.Input((16, 16, 3))
    backbone = keras.Model(frames, keras.layers.GlobalAveragePooling2D()(frames))
    with pytest.raises(ValueError, match="frames of shape"):
        tiny_cnn_lstm(backbone=backbone)


@pytest.mark.parametrize("input_shape", [(64, 64, 3), (1, 8, 64, 64, 3)])
def test_rejects_input_shape_that_is_not_a_clip(input_shape):
    with pytest.raises(ValueError, match=r"\(time, height, width, channels\)"):
        cnn_lstm(input_shape)


@pytest.mark.parametrize("options", [{"rnn": "transformer"}, {"pooling": "max"}, {"frame_pooling": "max"}, {"preset": "huge"}])
def test_rejects_unknown_options(options):
    with pytest.raises(ValueError, match="expects"):
        tiny_cnn_lstm(**options)


def test_keras_file_round_trip(tmp_path, clips, attention_gru):
    assert_keras_file_round_trip(attention_gru, clips, tmp_path / "cnn_lstm.keras")


def test_mixed_precision_outputs_float32(clips):
    try:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
        model = tiny_cnn_lstm(pooling="attention")
        probabilities = model.predict(clips, verbose=0)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert model.get_layer("lstm").compute_dtype == "bfloat16"
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_a_few_epochs_on_moving_shapes_reduce_the_loss():
    keras.utils.set_random_seed(0)
    videos, labels, class_names = moving_shapes(24, num_frames=6, size=24, seed=1)
    model = cnn_lstm(videos.shape[1:], num_classes=len(class_names), preset="small")
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    history = model.fit(videos / np.float32(255), labels, batch_size=8, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0], losses
