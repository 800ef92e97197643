"""Every hidden test tells a plausible wrong answer from the right one.

For each question of each exercise set, ``WRONG_ANSWERS`` lists mistakes a student could plausibly
make (a naive softmax, ``=`` instead of ``+=``, a missing ``max(1, ·)``, the wrong gate order, an
output size off by one...). Each one is put in place of the question's solution cell in a copy of
the master (its test cells left out, as in a submission), and the copies are graded through the real
grader (``videokit.grading.grade``, sandboxed where bubblewrap works), one set at a time: the k-th
copy of a set holds the k-th wrong answer of every question, so each set is graded once, in a few
notebooks. A wrong answer must lose points on its question and fail at least one of its hidden
tests; a question left with the master's answer keeps full marks; and every hidden test of the set
must fail at least one wrong answer (a hidden test no mistake fails tests nothing).
"""

import pathlib
import re

import pytest

pytest.importorskip("otter", reason="the exercises need otter-grader: pip install -e '.[course]'")

import nbformat  # noqa: E402  (comes with otter-grader)

from videokit import grading  # noqa: E402

pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]  # grades notebooks in kernels

ROOT = pathlib.Path(__file__).resolve().parents[1]
MASTERS = grading.exercise_sets(ROOT / "solutions")

# {set: {question: {what the mistake is: the solution cell's source with the mistake}}}
WRONG_ANSWERS = {
    "01_convolution": {
        "q1": {
            "ignores the dilation": '''
def conv_output_size(size, kernel_size, stride=1, padding="valid", dilation=1):
    if padding == "same":
        return -(-size // stride)
    return (size - kernel_size) // stride + 1
''',
            "floor instead of ceil for 'same'": '''
def conv_output_size(size, kernel_size, stride=1, padding="valid", dilation=1):
    if padding == "same":
        return size // stride
    return (size - dilation * (kernel_size - 1) - 1) // stride + 1
''',
        },
        "q2": {
            "uses the first input channel only": '''
def conv2d_valid(image, kernel, bias):
    windows = sliding_window_view(image, kernel.shape[:2], axis=(0, 1))
    return np.einsum("ijuv,uvo->ijo", windows[:, :, 0], kernel[:, :, 0]) + bias
''',
            "flips the kernel (a true convolution)": '''
def conv2d_valid(image, kernel, bias):
    windows = sliding_window_view(image, kernel.shape[:2], axis=(0, 1))
    return np.einsum("ijcuv,uvco->ijo", windows, kernel[::-1, ::-1]) + bias
''',
        },
        "q3": {
            "valid instead of same padding": '''
q3_output_shape = (30, 22, 32)
q3_params = 5 * 5 * 3 * 32 + 32
q3_multiply_adds = 30 * 22 * 5 * 5 * 3 * 32
''',
            "forgets the biases": '''
q3_output_shape = (32, 24, 32)
q3_params = 5 * 5 * 3 * 32
q3_multiply_adds = 32 * 24 * 5 * 5 * 3 * 32
''',
        },
        "q4": {
            "ignores the dilation": '''
def same_padding(size, kernel_size, stride=1, dilation=1):
    out_size = -(-size // stride)
    total = max((out_size - 1) * stride + kernel_size - size, 0)
    return total // 2, total - total // 2
''',
            "the odd zero goes first": '''
def same_padding(size, kernel_size, stride=1, dilation=1):
    out_size = -(-size // stride)
    total = max((out_size - 1) * stride + dilation * (kernel_size - 1) + 1 - size, 0)
    return total - total // 2, total // 2
''',
        },
    },
    "02_pooling": {
        "q1": {
            "pools across the channels too": '''
def max_pool2d(image, pool_size, stride):
    windows = sliding_window_view(image, (pool_size, pool_size), axis=(0, 1))
    return windows[::stride, ::stride].max(axis=(-3, -2, -1))[:, :, None]
''',
            "ignores the stride": '''
def max_pool2d(image, pool_size, stride):
    return sliding_window_view(image, (pool_size, pool_size), axis=(0, 1)).max(axis=(-2, -1))
''',
        },
        "q2": {
            "divides by pool_size ** 2 (counts the padding)": '''
def average_pool2d_same(image, pool_size, stride):
    pads = []
    for size in image.shape[:2]:
        out_size = -(-size // stride)
        total = max((out_size - 1) * stride + pool_size - size, 0)
        pads.append((total // 2, total - total // 2))
    padded = np.pad(image, pads + [(0, 0)])
    sums = sliding_window_view(padded, (pool_size, pool_size), axis=(0, 1))[::stride, ::stride].sum(axis=(-2, -1))
    return sums / pool_size**2
''',
            "pads the odd cell at the top and left": '''
def average_pool2d_same(image, pool_size, stride):
    pads = []
    for size in image.shape[:2]:
        out_size = -(-size // stride)
        total = max((out_size - 1) * stride + pool_size - size, 0)
        pads.append((total - total // 2, total // 2))
    padded = np.pad(image, pads + [(0, 0)])
    real = np.pad(np.ones(image.shape[:2]), pads)[:, :, None]
    window = (pool_size, pool_size)
    sums = sliding_window_view(padded, window, axis=(0, 1))[::stride, ::stride].sum(axis=(-2, -1))
    counts = sliding_window_view(real, window, axis=(0, 1))[::stride, ::stride].sum(axis=(-2, -1))
    return sums / counts
''',
        },
        "q3": {
            "= instead of += (an input that wins twice counts once)": '''
def max_pool_gradient(image, pool_size, stride):
    gradient = np.zeros(image.shape)
    windows = sliding_window_view(image, (pool_size, pool_size))[::stride, ::stride]
    for i in range(windows.shape[0]):
        for j in range(windows.shape[1]):
            u, v = np.unravel_index(windows[i, j].argmax(), (pool_size, pool_size))
            gradient[i * stride + u, j * stride + v] = 1
    return gradient
''',
            "window offsets without the stride": '''
def max_pool_gradient(image, pool_size, stride):
    gradient = np.zeros(image.shape)
    windows = sliding_window_view(image, (pool_size, pool_size))[::stride, ::stride]
    for i in range(windows.shape[0]):
        for j in range(windows.shape[1]):
            u, v = np.unravel_index(windows[i, j].argmax(), (pool_size, pool_size))
            gradient[i + u, j + v] += 1
    return gradient
''',
        },
        "q4": {
            "rounds the strided pooling up": '''
q4_shapes = [(16, 56, 56, 64), (8, 28, 28, 64), (4, 14, 14, 64), (64,)]
''',
            "the global pooling keeps the pooled axes": '''
q4_shapes = [(16, 56, 56, 64), (8, 28, 28, 64), (3, 13, 13, 64), (1, 1, 1, 64)]
''',
        },
    },
    "03_temporal_and_3d_convolution": {
        "q1": {
            "'same' computed like 'valid'": '''
def conv3d_output_shape(input_shape, filters, kernel_size, strides=(1, 1, 1), padding="valid"):
    return (*[(n - k) // s + 1 for n, k, s in zip(input_shape[:3], kernel_size, strides)], filters)
''',
            "keeps the input channels": '''
def conv3d_output_shape(input_shape, filters, kernel_size, strides=(1, 1, 1), padding="valid"):
    sizes = [-(-n // s) if padding == "same" else (n - k) // s + 1
             for n, k, s in zip(input_shape[:3], kernel_size, strides)]
    return (*sizes, input_shape[3])
''',
        },
        "q2": {
            "missing max(1, ·)": '''
def intermediate_channels_by_hand(t, d, n_in, n_out):
    return (t * d * d * n_in * n_out) // (d * d * n_in + t * n_out)
''',
            "rounds instead of taking the floor": '''
def intermediate_channels_by_hand(t, d, n_in, n_out):
    return max(1, round(t * d * d * n_in * n_out / (d * d * n_in + t * n_out)))
''',
        },
        "q3": {
            "pool1 taken as 2x2x2 like the others": '''
def c3d_parameter_count(input_shape, num_classes, filters, fc_units):
    time, height, width, channels = input_shape
    total, previous = 0, channels
    for out in filters:
        total += 27 * previous * out + out
        previous = out
    for _ in range(4):
        time, height, width = time // 2, height // 2, width // 2
    time, height, width = -(-time // 2), -(-height // 2), -(-width // 2)
    features = time * height * width * filters[-1]
    return total + features * fc_units + fc_units + fc_units * fc_units + fc_units + fc_units * num_classes + num_classes
''',
            "pool5 'valid' (floor) like the others": '''
def c3d_parameter_count(input_shape, num_classes, filters, fc_units):
    time, height, width, channels = input_shape
    total, previous = 0, channels
    for out in filters:
        total += 27 * previous * out + out
        previous = out
    time, height, width = time, height // 2, width // 2
    for _ in range(4):
        time, height, width = time // 2, height // 2, width // 2
    features = time * height * width * filters[-1]
    return total + features * fc_units + fc_units + fc_units * fc_units + fc_units + fc_units * num_classes + num_classes
''',
        },
        "q4": {
            "forgets the bias": '''
def temporal_conv(clip, kernel, bias):
    steps = clip.shape[0] - kernel.shape[0] + 1
    return sum(np.einsum("thwc,co->thwo", clip[u : u + steps], kernel[u]) for u in range(kernel.shape[0]))
''',
            "flips the kernel in time": '''
def temporal_conv(clip, kernel, bias):
    k = kernel.shape[0]
    steps = clip.shape[0] - k + 1
    return sum(np.einsum("thwc,co->thwo", clip[u : u + steps], kernel[k - 1 - u]) for u in range(k)) + bias
''',
        },
    },
    "04_gating_rnn_lstm_gru_convlstm": {
        "q1": {
            "splits along the first axis (single vectors only)": '''
def lstm_step(x, h, c, W, U, b):
    i, f, g, o = np.split(x @ W + h @ U + b, 4)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_new), c_new
''',
            "the wrong gate order (i, f, o, c)": '''
def lstm_step(x, h, c, W, U, b):
    i, f, o, g = np.split(x @ W + h @ U + b, 4, axis=-1)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_new), c_new
''',
        },
        "q2": {
            "splits along the first axis (single vectors only)": '''
def gru_step(x, h, W, U, b):
    x_z, x_r, x_h = np.split(x @ W + b[0], 3)
    h_z, h_r, h_h = np.split(h @ U + b[1], 3)
    z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
    return z * h + (1 - z) * np.tanh(x_h + r * h_h)
''',
            "z and 1 - z swapped": '''
def gru_step(x, h, W, U, b):
    x_z, x_r, x_h = np.split(x @ W + b[0], 3, axis=-1)
    h_z, h_r, h_h = np.split(h @ U + b[1], 3, axis=-1)
    z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
    return (1 - z) * h + z * np.tanh(x_h + r * h_h)
''',
        },
        "q3": {
            "forgets the sigmoid (b_f = 0.5 ** (1 / 50))": '''
q3_forget = {"smallest_bias": 0.5 ** (1 / 50), "keras_default": float(sigmoid(1.0) ** 50)}
''',
            "one step instead of the product over 50": '''
q3_forget = {"smallest_bias": float(np.log(0.5 ** (1 / 50) / (1 - 0.5 ** (1 / 50)))), "keras_default": float(sigmoid(1.0))}
''',
        },
        "q4": {
            "one GRU bias row": '''
q4_params = {"lstm": 6272, "gru": 3 * (16 * 32 + 32 * 32 + 32), "conv_lstm": 3488}
''',
            "ConvLSTM without the recurrent kernel": '''
q4_params = {"lstm": 6272, "gru": 4800, "conv_lstm": 4 * (9 * 4 * 8 + 8)}
''',
        },
    },
    "05_fusion_residuals_attention": {
        "q1": {
            "no signed square root": '''
def bilinear_fusion(a, b, epsilon=1e-12):
    batch = a.shape[0]
    pooled = np.einsum("bli,blj->bij", a.reshape(batch, -1, a.shape[-1]), b.reshape(batch, -1, b.shape[-1]))
    pooled = pooled.reshape(batch, -1)
    return pooled / np.sqrt(np.sum(pooled**2, axis=-1, keepdims=True) + epsilon)
''',
            "flattens B transposed (b a^T)": '''
def bilinear_fusion(a, b, epsilon=1e-12):
    batch = a.shape[0]
    pooled = np.einsum("bli,blj->bji", a.reshape(batch, -1, a.shape[-1]), b.reshape(batch, -1, b.shape[-1]))
    pooled = pooled.reshape(batch, -1)
    z = np.sign(pooled) * np.sqrt(np.abs(pooled) + epsilon)
    return z / np.sqrt(np.sum(z**2, axis=-1, keepdims=True) + epsilon)
''',
        },
        "q2": {
            "a naive softmax (overflows for large scores)": '''
def attention_pool(x, W, b, v):
    scores = np.tanh(np.asarray(x, "float64") @ W + b) @ v
    weights = np.exp(scores) / np.exp(scores).sum()
    return weights @ x, weights
''',
            "scores without the tanh": '''
def attention_pool(x, W, b, v):
    scores = (x @ W + b) @ v
    weights = np.exp(scores - scores.max())
    weights = weights / weights.sum()
    return weights @ x, weights
''',
        },
        "q3": {
            "multiplies the jump before adding the field": '''
def temporal_receptive_field(kernel_sizes, strides):
    field, jump, fields = 1, 1, []
    for kernel, stride in zip(kernel_sizes, strides):
        jump *= stride
        field += (kernel - 1) * jump
        fields.append(field)
    return fields
''',
            "ignores the strides": '''
def temporal_receptive_field(kernel_sizes, strides):
    field, fields = 1, []
    for kernel in kernel_sizes:
        field += kernel - 1
        fields.append(field)
    return fields
''',
        },
        "q4": {
            "conv fusion without the bias": '''
q4_counts = {"conv_fusion": 128 * 64, "bilinear_features": 64 * 32, "projection": 64 * 128}
''',
            "bilinear features as a concatenation (c_a + c_b)": '''
q4_counts = {"conv_fusion": 128 * 64 + 64, "bilinear_features": 64 + 32, "projection": 64 * 128}
''',
        },
    },
    "06_cnn_lstm_action_recognition": {
        "q1": {
            "one 2x2 pooling instead of two": '''
q1_feature_shape = (None, 8, 8 * 8 * 16)
q1_lstm_params = 4 * (1024 * 16 + 16 * 16 + 16)
''',
            "LSTM without the recurrent kernel": '''
q1_feature_shape = (None, 8, 4 * 4 * 16)
q1_lstm_params = 4 * (256 * 16 + 16)
''',
        },
        "q2": {
            "an LSTM instead of a GRU": '''
q2_model = cnn_lstm(input_shape=(8, 16, 16, 3), num_classes=3, preset="small", filters=(8,), rnn_units=12, pooling="attention")
''',
            "the last state instead of attention pooling": '''
q2_model = cnn_lstm(input_shape=(8, 16, 16, 3), num_classes=3, preset="small", filters=(8,), rnn="gru", rnn_units=12)
''',
        },
        "q3": {
            "compiled but never trained": '''
q3_model = cnn_lstm(input_shape=(8, 16, 16, 3), num_classes=2, preset="small", filters=(8,), rnn_units=16, frame_pooling="average")
q3_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
''',
            "over the parameter budget (the flash colours need few filters and units)": '''
keras.utils.set_random_seed(0)
q3_model = cnn_lstm(input_shape=(8, 16, 16, 3), num_classes=2, preset="small", filters=(16,), rnn_units=32, frame_pooling="average")
q3_model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
q3_model.fit(train_clips, train_labels, epochs=10, batch_size=32, verbose=0)
''',
        },
    },
    "07_3d_convolution_c3d_r2plus1d_r3d": {
        "q1": {
            "two blocks per stage (the default)": '''
q1_model = r2plus1d(input_shape=(8, 32, 32, 3), num_classes=5, stem_filters=8, stage_filters=(8, 16))
''',
            "the stem left at its default width": '''
q1_model = r2plus1d(input_shape=(8, 32, 32, 3), num_classes=5, stage_filters=(8, 16), blocks_per_stage=(1, 1))
''',
        },
        "q2": {
            "forgets pool5": '''
q2_pool5_shape = (2, 4, 4, 64)
q2_fc6_params = 2 * 4 * 4 * 64 * 128 + 128
''',
            "fc6 without the bias": '''
q2_pool5_shape = (1, 2, 2, 64)
q2_fc6_params = 1 * 2 * 2 * 64 * 128
''',
        },
        "q3": {
            "built but never trained": '''
q3_model = keras.Sequential([
    keras.Input((8, 16, 16, 1)),
    Conv2Plus1D(8, 3, padding="valid", activation="relu"),
    keras.layers.GlobalMaxPooling3D(),
    keras.layers.Dense(4, activation="softmax"),
])
''',
            "over the parameter budget (16 filters)": '''
keras.utils.set_random_seed(0)
q3_model = keras.Sequential([
    keras.Input((8, 16, 16, 1)),
    Conv2Plus1D(16, 3, padding="valid", activation="relu"),
    keras.layers.GlobalMaxPooling3D(),
    keras.layers.Dense(4, activation="softmax"),
])
q3_model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
q3_model.fit(train_clips, train_labels, epochs=10, batch_size=32, verbose=0)
''',
        },
    },
    "08_convlstm_next_frame_prediction": {
        "q1": {
            "no recurrent kernel": '''
def convlstm_params(filters, kernel_size, in_channels):
    return 4 * (kernel_size * kernel_size * in_channels * filters + filters)
''',
            "one gate instead of four": '''
def convlstm_params(filters, kernel_size, in_channels):
    area = kernel_size * kernel_size
    return area * in_channels * filters + area * filters * filters + filters
''',
        },
        "q2": {
            "inputs and targets swapped": '''
def next_frame_pairs(clips):
    frames = clips.astype("float32") / 255
    return frames[:, 1:], frames[:, :-1]
''',
            "not scaled to [0, 1]": '''
def next_frame_pairs(clips):
    frames = clips.astype("float32")
    return frames[:, :-1], frames[:, 1:]
''',
        },
        "q3": {
            "changes frame t too": '''
def is_causal(model, clip):
    rng = np.random.default_rng(0)
    original = keras.ops.convert_to_numpy(model(clip))
    for t in range(clip.shape[1] - 1):
        changed = np.array(clip, copy=True)
        changed[:, t:] = rng.uniform(size=changed[:, t:].shape)
        output = keras.ops.convert_to_numpy(model(changed))
        if not np.allclose(output[:, : t + 1], original[:, : t + 1], atol=1e-5):
            return False
    return True
''',
            "compares every step, not only 0..t": '''
def is_causal(model, clip):
    rng = np.random.default_rng(0)
    original = keras.ops.convert_to_numpy(model(clip))
    for t in range(clip.shape[1] - 1):
        changed = np.array(clip, copy=True)
        changed[:, t + 1 :] = rng.uniform(size=changed[:, t + 1 :].shape)
        if not np.allclose(keras.ops.convert_to_numpy(model(changed)), original, atol=1e-5):
            return False
    return True
''',
        },
        "q4": {
            "every 3-frame 'same' kernel looks one frame ahead (stacking and dilation ignored)": '''
q4_look_ahead = {"keras_io": 1, "two_conv3d": 1, "dilated": 1, "padded_before": 0, "padded_after": 2, "backwards": 7}
''',
            "padding at the end taken as causal, the backwards ConvLSTM as one frame ahead": '''
q4_look_ahead = {"keras_io": 1, "two_conv3d": 2, "dilated": 2, "padded_before": 2, "padded_after": 0, "backwards": 1}
''',
        },
    },
    "09_video_gans": {
        "q1": {
            "log of the sigmoid (overflows for large logits)": '''
def discriminator_loss_by_hand(real_logits, fake_logits, kind="non_saturating"):
    real, fake = np.asarray(real_logits, "float64"), np.asarray(fake_logits, "float64")
    if kind == "hinge":
        return float(np.mean(np.maximum(0, 1 - real)) + np.mean(np.maximum(0, 1 + fake)))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))
    return float(-np.mean(np.log(sigmoid(real))) - np.mean(np.log(1 - sigmoid(fake))))
''',
            "hinge without max(0, ·)": '''
def discriminator_loss_by_hand(real_logits, fake_logits, kind="non_saturating"):
    real, fake = np.asarray(real_logits, "float64"), np.asarray(fake_logits, "float64")
    if kind == "hinge":
        return float(np.mean(1 - real) + np.mean(1 + fake))
    return float(np.mean(np.logaddexp(0, -real)) + np.mean(np.logaddexp(0, fake)))
''',
        },
        "q2": {
            "log of the sigmoid (overflows for large logits)": '''
def generator_loss_by_hand(fake_logits, kind="non_saturating"):
    fake = np.asarray(fake_logits, "float64")
    if kind == "hinge":
        return float(-np.mean(fake))
    return float(-np.mean(np.log(1 / (1 + np.exp(-fake)))))
''',
            "the saturating minimax loss": '''
def generator_loss_by_hand(fake_logits, kind="non_saturating"):
    fake = np.asarray(fake_logits, "float64")
    if kind == "hinge":
        return float(-np.mean(fake))
    return float(-np.mean(np.logaddexp(0, fake)))
''',
        },
        "q3": {
            "the threshold at the mean of the real samples": '''
q3_optimal = {"threshold": 0.0, "min_loss": 1.163451}
''',
            "2 log 2 (the optimum only when p_G = p)": '''
q3_optimal = {"threshold": 0.5, "min_loss": 2 * float(np.log(2))}
''',
        },
    },
    "10_training_at_scale_and_on_colab": {
        "q1": {
            "truncates instead of rounding": '''
def to_bfloat16(x):
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    return (bits & np.uint32(0xFFFF0000)).view(np.float32)
''',
            "rounds ties up, not to even": '''
def to_bfloat16(x):
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x8000) & 0xFFFF0000).astype(np.uint32).view(np.float32)
''',
        },
        "q2": {
            "records the scale after the update": '''
def loss_scale_schedule(finite, initial_scale=2.0**15, growth_steps=2000):
    scale, good_steps, scales = float(initial_scale), 0, []
    for step_is_finite in finite:
        if not step_is_finite:
            scale, good_steps = scale / 2, 0
        elif good_steps + 1 == growth_steps:
            scale, good_steps = scale * 2, 0
        else:
            good_steps += 1
        scales.append(scale)
    return scales
''',
            "keeps counting good steps after an overflow": '''
def loss_scale_schedule(finite, initial_scale=2.0**15, growth_steps=2000):
    scale, good_steps, scales = float(initial_scale), 0, []
    for step_is_finite in finite:
        scales.append(scale)
        if not step_is_finite:
            scale = scale / 2
        elif good_steps + 1 == growth_steps:
            scale, good_steps = scale * 2, 0
        else:
            good_steps += 1
    return scales
''',
        },
        "q3": {
            "bfloat16 takes as much memory as float32": '''
q3_answers = {"float32_mib": 392.0, "bfloat16_mib": 392.0, "per_replica_batch": 8}
''',
            "megabytes instead of MiB": '''
q3_answers = {"float32_mib": 8 * 16 * 112 * 112 * 64 * 4 / 1e6, "bfloat16_mib": 8 * 16 * 112 * 112 * 64 * 2 / 1e6, "per_replica_batch": 8}
''',
        },
    },
    "11_self_supervised_pretext_tasks": {
        "q1": {
            "a plain permutation (sometimes the original order)": '''
def shuffle_frames(clip, rng):
    return np.asarray(clip)[rng.permutation(len(clip))]
''',
        },
        "q2": {
            "thinks the clips moving up or down stay ambiguous without move_down": '''
q2_best_accuracy = {"six_classes": 0.5, "no_move_down": 0.5}
''',
            "thinks a network can learn any arrow of time": '''
q2_best_accuracy = {"six_classes": 1.0, "no_move_down": 1.0}
''',
        },
        "q3": {
            "the nearest training clip instead of the nearest class mean": '''
def nearest_class_mean(train_features, train_labels, test_features):
    train_features, test_features = np.asarray(train_features, float), np.asarray(test_features, float)
    distances = ((test_features[:, None, :] - train_features[None]) ** 2).sum(axis=-1)
    return np.asarray(train_labels)[distances.argmin(axis=1)]
''',
            "the farthest mean (argmax)": '''
def nearest_class_mean(train_features, train_labels, test_features):
    train_features, test_features = np.asarray(train_features, float), np.asarray(test_features, float)
    labels = np.asarray(train_labels)
    means = np.stack([train_features[labels == c].mean(axis=0) for c in range(labels.max() + 1)])
    return ((test_features[:, None, :] - means[None]) ** 2).sum(axis=-1).argmax(axis=1)
''',
        },
        "q4": {
            "frames drawn with replacement taken for a shortcut (repeats need two frames to see)": '''
q4_shortcuts = ["c", "d", "e"]
''',
            "the reversal taken for a shortcut, the shuffled rows missed": '''
q4_shortcuts = ["b", "d"]
''',
        },
    },
    "12_attention_over_space_and_time": {
        "q1": {
            "14 patches per frame (the side, not the area)": '''
S, T, D, HEADS = 224 // 16, 16, 768, 12
N = T * S
q1_cost = {"tokens": N, "joint_entries": N**2, "divided_entries": T * S**2 + S * T**2,
           "factorised_entries": T * S**2 + T**2, "joint_macs": 2 * D * N**2, "joint_maps_mib": HEADS * N**2 * 4 / 2**20}
''',
            "divided and factorised counted as their spatial part only": '''
S, T, D, HEADS = 196, 16, 768, 12
N = T * S
q1_cost = {"tokens": N, "joint_entries": N**2, "divided_entries": T * S**2,
           "factorised_entries": T * S**2, "joint_macs": 2 * D * N**2, "joint_maps_mib": HEADS * N**2 * 4 / 2**20}
''',
            "every head of size D, and one head's maps in memory": '''
S, T, D, HEADS = 196, 16, 768, 12
N = T * S
q1_cost = {"tokens": N, "joint_entries": N**2, "divided_entries": T * S**2 + S * T**2,
           "factorised_entries": T * S**2 + T**2, "joint_macs": 2 * D * N**2 * HEADS, "joint_maps_mib": N**2 * 4 / 2**20}
''',
        },
        "q2": {
            "a reshape without the transpose": '''
def time_groups(x, num_frames):
    batch, tokens, dim = x.shape
    return x.reshape(batch * (tokens // num_frames), num_frames, dim)


def from_time_groups(groups, batch):
    return groups.reshape(batch, -1, groups.shape[-1])


def space_groups(x, num_frames):
    batch, tokens, dim = x.shape
    return x.reshape(batch * num_frames, tokens // num_frames, dim)
''',
            "frames and positions swapped in the spatial groups": '''
def time_groups(x, num_frames):
    batch, tokens, dim = x.shape
    patches = tokens // num_frames
    return x.reshape(batch, num_frames, patches, dim).transpose(0, 2, 1, 3).reshape(batch * patches, num_frames, dim)


def from_time_groups(groups, batch):
    rows, frames, dim = groups.shape
    return groups.reshape(batch, rows // batch, frames, dim).transpose(0, 2, 1, 3).reshape(batch, -1, dim)


def space_groups(x, num_frames):
    batch, tokens, dim = x.shape
    patches = tokens // num_frames
    return x.reshape(batch, patches, num_frames, dim).transpose(0, 2, 1, 3).reshape(batch * num_frames, patches, dim)
''',
        },
        "q3": {
            "scaled by d instead of its square root": '''
def attention(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / q.shape[-1]
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights
''',
            "a softmax without the maximum subtracted (overflows)": '''
def attention(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights
''',
            "the mask applied after the softmax (rows no longer sum to 1)": '''
def attention(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    if mask is not None:
        weights = weights * mask
    return weights @ v, weights
''',
        },
        "q4": {
            "the mask's off-by-one missed, only the unscrambling found": '''
q4_wrong_lines = ["G"]
''',
            "the correct regrouping blamed as well": '''
q4_wrong_lines = ["B", "E", "G"]
''',
        },
    },
    "13_masked_video_pretraining": {
        "q1": {
            "draws the hidden positions again in every time step (leaks across time)": '''
def tube_mask(num_frames, num_patches, mask_ratio, rng):
    num_visible = max(1, round(num_patches * (1 - mask_ratio)))
    mask = np.ones((num_frames, num_patches), dtype=bool)
    for step in range(num_frames):
        mask[step, rng.permutation(num_patches)[:num_visible]] = False
    return mask
''',
            "rounds the hidden count, so a high ratio can hide every position": '''
def tube_mask(num_frames, num_patches, mask_ratio, rng):
    hidden = np.zeros(num_patches, dtype=bool)
    hidden[rng.permutation(num_patches)[:round(num_patches * mask_ratio)]] = True
    return np.tile(hidden, (num_frames, 1))
''',
            "always keeps the first positions visible": '''
def tube_mask(num_frames, num_patches, mask_ratio, rng):
    num_visible = max(1, round(num_patches * (1 - mask_ratio)))
    hidden = np.arange(num_patches) >= num_visible
    return np.tile(hidden, (num_frames, 1))
''',
        },
        "q2": {
            "forgets that a tubelet spans 2 frames": '''
q2_tokens = 16 * 7 * 7
q2_visible = 16 * round(49 * (1 - 0.75))
q2_attention_saving = (q2_tokens / q2_visible) ** 2
''',
            "a quarter of the tokens, without rounding per time step": '''
q2_tokens = 8 * 7 * 7
q2_visible = q2_tokens // 4
q2_attention_saving = (q2_tokens / q2_visible) ** 2
''',
            "the saving of the token-wise layers, not of the attention map": '''
q2_tokens = 8 * 7 * 7
q2_visible = 8 * round(49 * (1 - 0.75))
q2_attention_saving = q2_tokens / q2_visible
''',
        },
        "q3": {
            "reads the token index space-major (position * time steps + step)": '''
def tubelet_target(clip, token, tubelet_size):
    clip = np.asarray(clip, dtype=float)
    t, h, w = tubelet_size
    steps, rows, columns = clip.shape[0] // t, clip.shape[1] // h, clip.shape[2] // w
    step, position = token % steps, token // steps
    row, column = position // columns, position % columns
    tubelet = clip[step * t:(step + 1) * t, row * h:(row + 1) * h, column * w:(column + 1) * w].reshape(-1)
    return (tubelet - tubelet.mean()) / np.sqrt(tubelet.var() + 1e-6)
''',
            "normalises every colour channel on its own": '''
def tubelet_target(clip, token, tubelet_size):
    clip = np.asarray(clip, dtype=float)
    t, h, w = tubelet_size
    rows, columns = clip.shape[1] // h, clip.shape[2] // w
    step, row, column = token // (rows * columns), token // columns % rows, token % columns
    tubelet = clip[step * t:(step + 1) * t, row * h:(row + 1) * h, column * w:(column + 1) * w]
    mean, variance = tubelet.mean(axis=(0, 1, 2)), tubelet.var(axis=(0, 1, 2))
    return ((tubelet - mean) / np.sqrt(variance + 1e-6)).reshape(-1)
''',
            "divides by the standard deviation without the epsilon (a flat tubelet gives nan)": '''
def tubelet_target(clip, token, tubelet_size):
    clip = np.asarray(clip, dtype=float)
    t, h, w = tubelet_size
    rows, columns = clip.shape[1] // h, clip.shape[2] // w
    step, row, column = token // (rows * columns), token // columns % rows, token % columns
    tubelet = clip[step * t:(step + 1) * t, row * h:(row + 1) * h, column * w:(column + 1) * w].reshape(-1)
    return (tubelet - tubelet.mean()) / tubelet.std()
''',
        },
        "q4": {
            "misses the masks that mix up the token order": '''
q4_leaking = ["b", "c"]
''',
            "takes the token-index version of the tube mask for a leak": '''
q4_leaking = ["b", "c", "d", "e", "f"]
''',
        },
    },
    "14_the_recipe_and_transfer": {
        "q1": {
            "averages the logits whatever is asked": '''
def average_views(logits, average):
    logits = np.asarray(logits, dtype=np.float64).mean(axis=1)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''',
            "a naive softmax (overflows)": '''
def average_views(logits, average):
    logits = np.asarray(logits, dtype=np.float64)
    softmax = lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    return softmax(logits).mean(axis=1) if average == "probabilities" else softmax(logits.mean(axis=1))
''',
        },
        "q2": {
            "rounds instead of taking the floor": '''
def segment_frame_indices(num_video_frames, num_segments, offsets=None):
    offsets = np.full(num_segments, 0.5) if offsets is None else np.asarray(offsets, dtype=float)
    positions = (np.arange(num_segments) + offsets) * (num_video_frames / num_segments)
    return np.minimum(np.round(positions).astype(int), num_video_frames - 1)
''',
            "ignores the offsets (always the centres)": '''
def segment_frame_indices(num_video_frames, num_segments, offsets=None):
    positions = (np.arange(num_segments) + 0.5) * (num_video_frames / num_segments)
    return np.minimum(np.floor(positions).astype(int), num_video_frames - 1)
''',
        },
        "q3": {
            "repeats without dividing by the time kernel": '''
def inflate_kernel(kernel, time_kernel, mode):
    kernel = np.asarray(kernel)
    if mode == "mean":
        return np.repeat(kernel[None], time_kernel, axis=0)
    inflated = np.zeros((time_kernel, *kernel.shape))
    inflated[time_kernel // 2] = kernel
    return inflated
''',
            "puts the centre kernel in the first slice": '''
def inflate_kernel(kernel, time_kernel, mode):
    kernel = np.asarray(kernel)
    if mode == "mean":
        return np.repeat(kernel[None], time_kernel, axis=0) / time_kernel
    inflated = np.zeros((time_kernel, *kernel.shape))
    inflated[0] = kernel
    return inflated
''',
        },
        "q4": {
            "the bias cut by the padding too": '''
q4_outputs = {"mean_same_zeros": [14 / 3, 7, 7, 14 / 3], "centre_same_zeros": [7, 7, 7, 7], "mean_valid": [7, 7], "mean_k5_same_zeros": [4.2, 5.6, 5.6, 4.2]}
''',
            "valid padding keeps every frame": '''
q4_outputs = {"mean_same_zeros": [5, 7, 7, 5], "centre_same_zeros": [7, 7, 7, 7], "mean_valid": [7, 7, 7, 7], "mean_k5_same_zeros": [4.6, 5.8, 5.8, 4.6]}
''',
        },
    },
    "15_looking_inside_and_shipping": {
        "q1": {
            "no ReLU": '''
def grad_cam(features, gradients, per_frame=False):
    axes = (1, 2) if per_frame else (0, 1, 2)
    weights = np.asarray(gradients).mean(axis=axes, keepdims=True)
    return (weights * np.asarray(features)).sum(axis=-1)
''',
            "per_frame ignored: one set of weights for the clip": '''
def grad_cam(features, gradients, per_frame=False):
    weights = np.asarray(gradients).mean(axis=(0, 1, 2), keepdims=True)
    return np.maximum((weights * np.asarray(features)).sum(axis=-1), 0.0)
''',
            "the ReLU on the gradients instead of the map": '''
def grad_cam(features, gradients, per_frame=False):
    axes = (1, 2) if per_frame else (0, 1, 2)
    weights = np.maximum(np.asarray(gradients), 0.0).mean(axis=axes, keepdims=True)
    return (weights * np.asarray(features)).sum(axis=-1)
''',
        },
        "q2": {
            "frozen repeats the last frame": '''
def probe_clips(clips, order):
    clips = np.asarray(clips)
    return {"original": clips, "shuffled": clips[:, np.asarray(order)], "reversed": clips[:, ::-1],
            "frozen": np.repeat(clips[:, -1:], clips.shape[1], axis=1)}
''',
            "reversed flips the rows, not the time": '''
def probe_clips(clips, order):
    clips = np.asarray(clips)
    return {"original": clips, "shuffled": clips[:, np.asarray(order)], "reversed": clips[:, :, ::-1],
            "frozen": np.repeat(clips[:, :1], clips.shape[1], axis=1)}
''',
            "the shuffle reads order the other way round (argsort)": '''
def probe_clips(clips, order):
    clips = np.asarray(clips)
    return {"original": clips, "shuffled": clips[:, np.argsort(order)], "reversed": clips[:, ::-1],
            "frozen": np.repeat(clips[:, :1], clips.shape[1], axis=1)}
''',
            "frozen keeps one frame only": '''
def probe_clips(clips, order):
    clips = np.asarray(clips)
    return {"original": clips, "shuffled": clips[:, np.asarray(order)], "reversed": clips[:, ::-1],
            "frozen": clips[:, :1]}
''',
        },
        "q3": {
            "looks at the frozen clips only": '''
def uses_motion(table, margin=0.1):
    return table["original"] - table["frozen"] > margin
''',
            "the mean drop instead of the largest": '''
def uses_motion(table, margin=0.1):
    drops = [table["original"] - table[name] for name in ("shuffled", "reversed", "frozen")]
    return sum(drops) / 3 > margin
''',
            "any change counts, a gain too": '''
def uses_motion(table, margin=0.1):
    return any(abs(table["original"] - table[name]) > margin for name in ("shuffled", "reversed", "frozen"))
''',
            "the margin argument ignored": '''
def uses_motion(table, margin=0.1):
    return table["original"] - min(table["shuffled"], table["reversed"], table["frozen"]) > 0.1
''',
        },
        "q4": {
            "the kernel flipped (a true convolution)": '''
def causal_step(frame, buffer, kernel, bias):
    window = np.concatenate([buffer, np.asarray(frame)[None]], axis=0)
    return np.einsum("jc,jcf->f", window, np.asarray(kernel)[::-1]) + bias, window[1:]
''',
            "newest frame first in the buffer": '''
def causal_step(frame, buffer, kernel, bias):
    window = np.concatenate([np.asarray(frame)[None], buffer], axis=0)
    return np.einsum("jc,jcf->f", window[::-1], kernel) + bias, window[:-1]
''',
            "the buffer is never updated": '''
def causal_step(frame, buffer, kernel, bias):
    window = np.concatenate([buffer, np.asarray(frame)[None]], axis=0)
    return np.einsum("jc,jcf->f", window, kernel) + bias, buffer
''',
        },
    },
}


def solution_cells(notebook):
    """``{question: index of its solution code cell}`` and the indices of the test code cells."""
    solutions, tests, question, block = {}, [], None, None
    for index, cell in enumerate(notebook.cells):
        text = cell.source.strip()
        if cell.cell_type == "raw":
            if text.startswith("# BEGIN QUESTION"):
                question = re.search(r"name:\s*(\S+)", text).group(1)
            elif text in ("# BEGIN SOLUTION", "# BEGIN TESTS"):
                block = text.split()[-1]
            elif text in ("# END SOLUTION", "# END TESTS"):
                block = None
        elif cell.cell_type == "code" and block == "SOLUTION":
            assert question not in solutions, f"{question}: one solution cell per question"
            solutions[question] = index
        elif cell.cell_type == "code" and block == "TESTS":
            tests.append(index)
    return solutions, tests


def wrong_notebooks(name, folder):
    """The master of `name` with its k-th wrong answers, k = 0, 1, ...: ``[(path, {question: mistake})]``."""
    master = nbformat.read(MASTERS[name], as_version=4)
    solutions, tests = solution_cells(master)
    wrong = WRONG_ANSWERS[name]
    built = []
    for k in range(max(len(answers) for answers in wrong.values())):
        notebook = nbformat.read(MASTERS[name], as_version=4)
        chosen = {}
        for question, answers in wrong.items():
            if k < len(answers):
                mistake, source = list(answers.items())[k]
                notebook.cells[solutions[question]].source = source.strip()
                chosen[question] = mistake
        notebook.cells = [cell for index, cell in enumerate(notebook.cells) if index not in tests]
        path = folder / f"{name}__wrong_{k}.ipynb"
        nbformat.write(notebook, path)
        built.append((path, chosen))
    return built


def test_every_question_has_wrong_answers():
    assert sorted(WRONG_ANSWERS) == sorted(MASTERS), "wrong answers for every exercise set, and only those"
    for name, master in MASTERS.items():
        plan = grading.question_plan(master)
        assert sorted(WRONG_ANSWERS[name]) == sorted(plan), f"{name}: wrong answers for every question"
        assert all(WRONG_ANSWERS[name].values()), f"{name}: at least one wrong answer per question"


@pytest.fixture(scope="module")
def autograder_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDEOKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.mark.parametrize("name", sorted(WRONG_ANSWERS))  # 01-05 first: NumPy only, the cheapest
def test_wrong_answers_fail_the_hidden_tests(autograder_cache, tmp_path, name):
    built = wrong_notebooks(name, tmp_path)
    results = grading.grade([path for path, _ in built], jobs=2, sandboxed=not grading.sandbox_problem())
    plan = grading.question_plan(MASTERS[name])
    hidden = {case["name"] for cases in plan.values() for case in cases if case["hidden"]}
    failed_somewhere, problems = set(), []
    for (path, chosen), result in zip(built, results):
        assert result.status == "graded", f"{path.name}: {result.error}"
        for question in result.questions:
            failed_hidden = {test["name"] for test in question.tests if test["hidden"] and not test["passed"]}
            failed_somewhere |= failed_hidden
            mistake = chosen.get(question.name)
            if mistake is None and question.score != question.max_score:
                problems.append(f"{question.name} with the master's answer: {question.score} / {question.max_score}")
            elif mistake is not None and question.score >= question.max_score:
                problems.append(f"{question.name} '{mistake}' keeps full marks")
            elif mistake is not None and not failed_hidden:
                problems.append(f"{question.name} '{mistake}' passes every hidden test")
    assert not problems, f"{name}: {problems}"
    assert hidden <= failed_somewhere, f"{name}: hidden tests that no wrong answer fails: {sorted(hidden - failed_somewhere)}"
