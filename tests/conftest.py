"""Shared fixtures: small real video files written with videokit.io."""

try:
    # PyTorch's triton (which transformers loads) crashes the process when its
    # library is loaded after TensorFlow's (torch 2.14, TensorFlow 2.21); loaded
    # first, both work. Only where triton is installed.
    import triton  # noqa: F401
except ImportError:
    pass

import keras  # noqa: E402
import numpy as np
import pytest

from videokit import io


# Building a model on JAX compiles one initializer per new weight shape: big
# models take 10 s or more on 2 CPU cores, so they are only built on TensorFlow.
SLOW_ON_JAX = pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="builds a large model: slow to initialise on JAX"
)


def assert_keras_file_round_trip(model, inputs, path):
    """Save ``model`` to ``path`` (a ``.keras`` file), load it back, and check it predicts the same."""
    model.save(path)
    restored = keras.models.load_model(path)
    expected = model.predict(inputs, verbose=0)
    np.testing.assert_allclose(restored.predict(inputs, verbose=0), expected, atol=1e-6)


def indexed_frames(num_frames, height=48, width=64, step=8):
    """Frames whose flat grey level encodes their index: level = 20 + step * index."""
    if 20 + step * (num_frames - 1) > 255:
        raise ValueError(f"{num_frames} frames do not fit in grey levels {step} apart.")
    levels = 20 + step * np.arange(num_frames)
    return np.broadcast_to(levels[:, None, None, None], (num_frames, height, width, 3)).astype(np.uint8)


def frame_index(frame, step=8):
    """The index ``indexed_frames`` encoded in a decoded frame."""
    return int(round((float(frame.mean()) - 20) / step))


@pytest.fixture
def make_video(tmp_path):
    def make(name, frames=None, **options):
        frames = indexed_frames(24) if frames is None else frames
        return io.write_video(tmp_path / name, frames, **options)

    return make
