import keras
import numpy as np
import pytest

from videokit.layers import SinusoidalPositionEmbedding
from videokit.layers.sinusoidal_position_embedding import sinusoid_table


def test_the_table_interleaves_sines_and_cosines_of_the_transformer():
    table = sinusoid_table(50, 8)
    position, channel = 7, 5  # odd channel: cosine of the rate of channel 4
    assert table[position, channel] == pytest.approx(np.cos(position / 10000 ** (4 / 8)), abs=1e-6)
    assert table[position, 4] == pytest.approx(np.sin(position / 10000 ** (4 / 8)), abs=1e-6)
    np.testing.assert_allclose(table[0, 0::2], 0.0)
    np.testing.assert_allclose(table[0, 1::2], 1.0)


def test_adds_the_fixed_table_and_learns_nothing(tmp_path):
    tokens = np.random.default_rng(0).normal(size=(2, 12, 6)).astype("float32")
    layer = SinusoidalPositionEmbedding()
    outputs = keras.ops.convert_to_numpy(layer(tokens))
    np.testing.assert_allclose(outputs, tokens + sinusoid_table(12, 6), atol=1e-6)
    assert layer.weights == []
    restored = SinusoidalPositionEmbedding.from_config(layer.get_config())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(tokens)), outputs, atol=1e-6)


def test_rejects_tokens_of_unknown_length():
    with pytest.raises(ValueError, match=r"expects tokens \(batch, tokens, embed_dim\) with known tokens"):
        SinusoidalPositionEmbedding().build((2, None, 6))
