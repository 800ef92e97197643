import functools
import math

import keras
import numpy as np
import pytest

from videokit import models
from videokit.data import moving_shapes

BUILDERS = ["single_frame", "early_fusion", "late_fusion", "slow_fusion", "multi_level_fusion"]
# Tiny widths: the tests check wiring and serialisation, not accuracy.
TINY = {"filters": (4, 8), "kernel_sizes": (3, 3), "dense_units": (8,)}
CLIP_SHAPE = (8, 16, 16, 3)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def build(builder, **kwargs):
    settings = {"input_shape": CLIP_SHAPE, "num_classes": 3, "preset": "small", **TINY, **kwargs}
    return getattr(models, builder)(**settings)


@functools.cache
def tiny_model(builder, **kwargs):
    """One model per builder and arguments, shared by the tests that only run it."""
    return build(builder, **kwargs)


@pytest.fixture
def clips():
    return np.random.default_rng(0).uniform(size=(2, *CLIP_SHAPE)).astype("float32")


@pytest.mark.parametrize("builder", BUILDERS)
def test_output_shape_and_keras_file_round_trip(builder, clips, tmp_path):
    model = tiny_model(builder)
    probabilities = numpy(model(clips))
    assert model.output_shape == (None, 3)
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    model.save(tmp_path / f"{builder}.keras")
    loaded = keras.models.load_model(tmp_path / f"{builder}.keras")
    np.testing.assert_allclose(numpy(loaded(clips)), probabilities, atol=0)


def test_model_config_round_trip(clips):
    model = tiny_model("late_fusion")
    rebuilt = keras.Model.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(numpy(rebuilt(clips)), numpy(model(clips)), atol=0)


@pytest.mark.parametrize("builder", BUILDERS)
def test_mixed_precision_builds_and_outputs_float32(builder, clips):
    try:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
        model = build(builder)
        assert model.get_layer("fc1").compute_dtype == "bfloat16"
        assert keras.backend.standardize_dtype(model(clips).dtype) == "float32"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def temporal_receptive_fields(model):
    """Frames seen by each Conv3D, from the kernel sizes and strides in the layer configs."""
    fields, frames, jump = [], 1, 1
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv3D):
            config = layer.get_config()
            frames += (config["kernel_size"][0] - 1) * jump
            jump *= config["strides"][0]
            fields.append(frames)
    return fields


def test_slow_fusion_sees_more_frames_in_higher_layers():
    model = tiny_model("slow_fusion")
    assert temporal_receptive_fields(model) == [4, 6]  # 8 frames -> 4 -> 2 time steps
    assert [model.get_layer(f"conv{n}").output.shape[1] for n in (1, 2)] == [4, 2]
    three_layers = build("slow_fusion", filters=(4, 8, 8), kernel_sizes=(3, 3, 3))
    assert temporal_receptive_fields(three_layers) == [4, 6, 10]  # 10 >= 8: the whole clip
    assert three_layers.get_layer("conv3").output.shape[1] == 1


def changed_frames(clips, frames):
    changed = clips.copy()
    changed[:, frames] = 1.0 - changed[:, frames]
    return changed


@pytest.mark.parametrize(
    "builder, kwargs, frames_ignored, frames_used",
    [
        ("single_frame", {}, [0, 1, 2, 3, 5, 6, 7], [4]),  # the middle frame only
        ("late_fusion", {}, [1, 2, 3, 4, 5, 6], [7]),  # the first and last frames
        ("early_fusion", {"window": 4}, [0, 1, 6, 7], [5]),  # the 4 middle frames
    ],
)
def test_models_look_at_the_frames_they_should(builder, kwargs, frames_ignored, frames_used, clips):
    model = tiny_model(builder, **kwargs)
    reference = numpy(model(clips))
    ignored = changed_frames(clips, frames_ignored)
    np.testing.assert_allclose(numpy(model(ignored)), reference, atol=0)
    assert not np.allclose(numpy(model(changed_frames(clips, frames_used))), reference)


def test_late_fusion_shares_one_tower_between_the_two_frames():
    model = tiny_model("late_fusion")
    tower = model.get_layer("frame_tower")
    head = sum(layer.count_params() for layer in model.layers if layer is not tower)
    assert model.count_params() == tower.count_params() + head
    features_per_frame = math.prod(tower.output.shape[1:])
    assert model.get_layer("late_fusion").output.shape == (None, 2 * features_per_frame)


def test_a_few_training_steps_reduce_the_loss_on_moving_shapes():
    keras.utils.set_random_seed(0)
    videos, labels, class_names = moving_shapes(16, num_frames=8, size=24, seed=0)
    model = build("early_fusion", input_shape=videos.shape[1:], num_classes=len(class_names))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    history = model.fit(videos / 255.0, labels, epochs=8, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize(
    "builder, kwargs, match",
    [
        ("slow_fusion", {"input_shape": (16, 16, 3)}, r"\(time, height, width, channels\)"),
        ("late_fusion", {"input_shape": (1, 16, 16, 3)}, "time >= 2"),
        ("single_frame", {"num_classes": 0}, "num_classes to be a positive int"),
        ("early_fusion", {"window": 9}, "window"),
        ("multi_level_fusion", {"preset": "large"}, "preset"),
        ("single_frame", {"kernel_sizes": (3,)}, "same length"),
        ("slow_fusion", {"temporal_kernel_sizes": ()}, "temporal kernel"),
    ],
)
def test_bad_arguments_raise(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(builder, **kwargs)
