import keras
import numpy as np
import pytest

from videokit.data import moving_digits
from videokit.models import convlstm_predictor, rollout
from tests.conftest import SLOW_ON_JAX, assert_keras_file_round_trip

CLIP_SHAPE = (6, 16, 16, 1)


@pytest.fixture
def clips():
    return np.random.default_rng(0).random((2, *CLIP_SHAPE), dtype="float32")


def tiny_predictor(input_shape=CLIP_SHAPE):
    keras.utils.set_random_seed(0)
    return convlstm_predictor(input_shape, preset="small", filters=(4, 4))


@pytest.fixture(scope="module")
def predictor():
    return tiny_predictor()


def steps_changed_by_perturbing_after(model, clips, step):
    """Which output steps change when the frames after `step` are replaced."""
    perturbed = clips.copy()
    perturbed[:, step + 1 :] = np.random.default_rng(1).random(perturbed[:, step + 1 :].shape)
    difference = np.abs(model.predict(perturbed, verbose=0) - model.predict(clips, verbose=0))
    return difference.max(axis=(0, 2, 3, 4)) > 1e-6


def test_predicts_a_frame_in_0_1_per_input_frame(clips, predictor):
    predictions = predictor.predict(clips, verbose=0)
    assert predictor.output_shape == (None, *CLIP_SHAPE)
    assert predictions.shape == clips.shape
    assert predictions.dtype == np.float32
    assert predictions.min() >= 0.0 and predictions.max() <= 1.0


@pytest.mark.parametrize("step", [0, 2, 4])
def test_is_causal_in_time(clips, predictor, step):
    changed = steps_changed_by_perturbing_after(predictor, clips, step)
    assert not changed[: step + 1].any(), changed
    assert changed[step + 1 :].all(), changed


def test_causality_check_catches_a_head_that_looks_at_the_next_frame(clips):
    """The keras-io example's Conv3D head (kernel 3 in time, padding same) leaks frame t + 1."""
    frames = keras.Input(CLIP_SHAPE)
    hidden = keras.layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True)(frames)
    leaky_head = keras.layers.Conv3D(1, 3, padding="same", activation="sigmoid")(hidden)
    changed = steps_changed_by_perturbing_after(keras.Model(frames, leaky_head), clips, 2)
    assert changed[2]


def test_rollout_equals_feeding_back_predictions_one_at_a_time(clips):
    model = tiny_predictor((None, *CLIP_SHAPE[1:]))
    forecasts = rollout(model, clips[:, :3], steps=4)
    assert forecasts.shape == (2, 4, *CLIP_SHAPE[1:])
    assert forecasts.dtype == np.float32
    # The model is causal, so one pass over context + forecasts gives, from the
    # last context frame on, the prediction made from each growing clip.
    fed_back = np.concatenate([clips[:, :3], forecasts[:, :-1]], axis=1)
    np.testing.assert_allclose(model.predict(fed_back, verbose=0)[:, 2:], forecasts, atol=1e-5)


def test_rollout_works_with_a_fixed_length_model(clips, predictor):
    forecasts = rollout(predictor, clips, steps=CLIP_SHAPE[0] + 2)
    assert forecasts.shape == (2, CLIP_SHAPE[0] + 2, *CLIP_SHAPE[1:])
    np.testing.assert_allclose(forecasts[:, 0], predictor.predict(clips, verbose=0)[:, -1], atol=1e-5)


@pytest.mark.parametrize(
    "context, steps",
    [
        (np.zeros((2, 3, 8, 8, 1)), 2),  # frames of another size
        (np.zeros((3, 16, 16, 1)), 2),  # one clip without its batch axis
        (np.zeros((2, 0, 16, 16, 1)), 2),  # no context frame
        (np.zeros((2, 3, 16, 16, 1), "uint8"), 2),  # frames not scaled to [0, 1]
        (np.zeros((2, 3, 16, 16, 1)), 0),
        (np.zeros((2, 3, 16, 16, 1)), 2.5),
    ],
)
def test_rollout_rejects_bad_arguments(context, steps, predictor):
    with pytest.raises(ValueError, match="rollout expects"):
        rollout(predictor, context, steps)


@pytest.mark.parametrize("input_shape", [(64, 64, 1), (10, None, None, 1)])
def test_rejects_input_shape_that_is_not_a_clip(input_shape):
    with pytest.raises(ValueError, match=r"\(time, height, width, channels\)"):
        convlstm_predictor(input_shape)


def test_small_preset_builds_and_explicit_arguments_override_it():
    small = convlstm_predictor(preset="small")
    assert small.input_shape == (None, 10, 32, 32, 1)
    assert [layer.filters for layer in small.layers if isinstance(layer, keras.layers.ConvLSTM2D)] == [16, 16]
    overridden = convlstm_predictor((4, 32, 32, 1), preset="small", filters=(8,))
    assert overridden.input_shape == (None, 4, 32, 32, 1)
    assert overridden.get_layer("convlstm0").filters == 8


@SLOW_ON_JAX
def test_paper_preset_builds():
    paper = convlstm_predictor(preset="paper")
    assert paper.output_shape == (None, 10, 64, 64, 1)
    assert [layer.filters for layer in paper.layers if isinstance(layer, keras.layers.ConvLSTM2D)] == [128, 64, 64]


def test_keras_file_round_trip(tmp_path, clips, predictor):
    assert_keras_file_round_trip(predictor, clips, tmp_path / "convlstm.keras")


def test_mixed_precision_outputs_float32(clips):
    try:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
        model = tiny_predictor()
        predictions = model.predict(clips, verbose=0)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert model.get_layer("convlstm0").compute_dtype == "bfloat16"
    assert predictions.dtype == np.float32


def test_a_few_epochs_on_moving_digits_reduce_the_loss():
    clips = moving_digits(16, num_frames=6, size=32, num_digits=1, seed=1) / np.float32(255)
    keras.utils.set_random_seed(0)
    # One narrow layer: ConvLSTM training is slow on JAX's CPU backend.
    model = convlstm_predictor((5, 32, 32, 1), preset="small", filters=(8,))
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy")
    history = model.fit(clips[:, :-1], clips[:, 1:], batch_size=4, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0], losses
