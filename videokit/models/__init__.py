"""Video model builders, one model family per module, imported on first use."""

from videokit._lazy import lazy_attributes

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


__getattr__, __dir__ = lazy_attributes(__name__, _MODEL_MODULES)
