"""Video model builders, one model family per module, imported on first use."""

import importlib

_MODEL_MODULES = {
    "cnn_lstm": "cnn_rnn",
    "convlstm_predictor": "convlstm",
    "rollout": "convlstm",
    "c3d": "conv3d",
    "r2plus1d": "conv3d",
    "r3d": "conv3d",
    "single_frame": "fusion",
    "early_fusion": "fusion",
    "late_fusion": "fusion",
    "slow_fusion": "fusion",
    "multi_level_fusion": "fusion",
    "VideoGAN": "gan",
    "vgan_generator": "gan",
    "mocogan_generator": "gan",
    "video_discriminator": "gan",
}

__all__ = sorted(_MODEL_MODULES)


def __getattr__(name):
    if name in _MODEL_MODULES:
        module = importlib.import_module(f"videokit.models.{_MODEL_MODULES[name]}")
        value = globals()[name] = getattr(module, name)
        return value
    raise AttributeError(f"module 'videokit.models' has no attribute {name!r}")


def __dir__():
    return __all__
