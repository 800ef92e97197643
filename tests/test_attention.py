import keras
import numpy as np
import pytest

from videokit.layers import TemporalAttentionPooling


@pytest.fixture
def features():
    return np.random.default_rng(0).normal(size=(3, 6, 5)).astype("float32")


def test_output_shapes_and_weights_sum_to_one(features):
    pooled, weights = TemporalAttentionPooling(units=4)(features, return_attention=True)
    assert pooled.shape == (3, 5)
    assert weights.shape == (3, 6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weights).sum(axis=1), 1.0, atol=1e-6)


def test_output_is_the_weighted_average_of_the_steps(features):
    pooled, weights = TemporalAttentionPooling(units=4)(features, return_attention=True)
    expected = np.einsum("bt,btf->bf", keras.ops.convert_to_numpy(weights), features)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), expected, atol=1e-5)


def test_return_attention_layer_argument_and_call_override(features):
    layer = TemporalAttentionPooling(units=4, return_attention=True)
    assert len(layer(features)) == 2
    assert layer(features, return_attention=False).shape == (3, 5)


def test_explicit_mask_gives_masked_steps_zero_weight(features):
    layer = TemporalAttentionPooling(units=4)
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]], dtype=bool)
    pooled, weights = layer(features, mask=mask, return_attention=True)
    weights = keras.ops.convert_to_numpy(weights)
    np.testing.assert_allclose(weights[~mask], 0.0, atol=1e-7)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled)[2], features[2, 0], atol=1e-6)
    # Masked steps do not matter, whatever they hold.
    changed = features.copy()
    changed[~mask] = 100.0
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(changed, mask=mask)), keras.ops.convert_to_numpy(pooled), atol=1e-6
    )


def test_keras_mask_from_masking_layer_is_respected(features):
    padded = features.copy()
    padded[0, 4:] = 0.0
    inputs = keras.Input((6, 5))
    outputs = TemporalAttentionPooling(units=4, return_attention=True)(keras.layers.Masking()(inputs))
    weights = keras.Model(inputs, outputs).predict(padded, verbose=0)[1]
    np.testing.assert_allclose(weights[0, 4:], 0.0, atol=1e-7)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(weights[1:] > 0)


def test_rejects_inputs_that_are_not_sequences_of_vectors():
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        TemporalAttentionPooling()(np.zeros((2, 4, 4, 3), "float32"))


def test_serialize_deserialize_round_trip():
    layer = TemporalAttentionPooling(units=7, return_attention=True, name="pool")
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(restored, TemporalAttentionPooling)
    assert restored.get_config() == layer.get_config()


def test_keras_file_round_trip(tmp_path, features):
    inputs = keras.Input((6, 5))
    model = keras.Model(inputs, TemporalAttentionPooling(units=4, return_attention=True)(inputs))
    path = tmp_path / "attention.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    for expected, actual in zip(model.predict(features, verbose=0), restored.predict(features, verbose=0)):
        np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_mixed_precision_weights_stay_float32(features):
    try:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
        pooled, weights = TemporalAttentionPooling(units=4)(features, return_attention=True)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert keras.backend.standardize_dtype(pooled.dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(weights.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weights).sum(axis=1), 1.0, atol=1e-5)
