import keras
import numpy as np

from videokit import benchmark
from videokit.layers import Conv2Plus1D


def test_multiply_adds_of_standard_layers_by_hand():
    inputs = keras.Input((4, 8, 8, 3))
    x = keras.layers.Conv3D(5, 3, padding="same")(inputs)  # 4*8*8 positions x 27*3*5
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(2, 3, padding="valid"))(x)  # 4 x 6*6 x 9*5*2
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(7)(x)  # 4*6*6*2 x 7
    model = keras.Model(inputs, outputs)
    expected = 4 * 8 * 8 * 27 * 3 * 5 + 4 * 6 * 6 * 9 * 5 * 2 + 4 * 6 * 6 * 2 * 7
    assert benchmark.count_macs(model) == expected


def test_conv2plus1d_counts_its_two_factorised_convolutions():
    inputs = keras.Input((4, 8, 8, 3))
    layer = Conv2Plus1D(6, (3, 3, 3), intermediate_filters=5)
    model = keras.Model(inputs, layer(inputs))
    spatial = 4 * 8 * 8 * (1 * 3 * 3) * 3 * 5
    temporal = 4 * 8 * 8 * 3 * 5 * 6
    assert benchmark.count_macs(model) == spatial + temporal


def test_recurrent_cells_count_their_gates():
    inputs = keras.Input((5, 4))
    model = keras.Model(inputs, keras.layers.LSTM(3)(inputs))
    assert benchmark.count_macs(model) == 5 * 4 * 3 * (4 + 3)
    assert np.isfinite(benchmark.count_macs(model))
