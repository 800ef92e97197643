"""Reusable video layers. Each lives in its own module and is imported on first use."""

from videokit._lazy import lazy_attributes

_LAYER_MODULES = {
    "CausalConv3D": "causal_conv3d",
    "ClassToken": "class_token",
    "ClipCutMix": "clip_augmentation",
    "ClipMixUp": "clip_augmentation",
    "ClipRandomFlip": "clip_augmentation",
    "ClipRandomResizedCrop": "clip_augmentation",
    "Conv2Plus1D": "conv2plus1d",
    "CumulativeAverage": "cumulative_average",
    "DividedSpaceTimeBlock": "video_transformer",
    "EdgePaddedConv3D": "edge_padded_conv3d",
    "FeatureFusion": "feature_fusion",
    "LastFrame": "last_frame",
    "MaskedComposite": "masked_composite",
    "MultiHeadSelfAttention": "video_transformer",
    "NonLocalBlock": "nonlocal_block",
    "SinusoidalPositionEmbedding": "sinusoidal_position_embedding",
    "SpaceTimePositionEmbedding": "position_embedding",
    "TemporalAttentionPooling": "attention",
    "TransformerBlock": "video_transformer",
    "TubeletEmbedding": "tubelet_embedding",
}

__all__ = sorted(_LAYER_MODULES)


__getattr__, __dir__ = lazy_attributes(__name__, _LAYER_MODULES)
