"""Reusable video layers. Each lives in its own module and is imported on first use."""

from videokit._lazy import lazy_attributes

_LAYER_MODULES = {
    "ClassToken": "class_token",
    "Conv2Plus1D": "conv2plus1d",
    "DividedSpaceTimeBlock": "video_transformer",
    "FeatureFusion": "feature_fusion",
    "MaskedComposite": "masked_composite",
    "MultiHeadSelfAttention": "video_transformer",
    "NonLocalBlock": "nonlocal_block",
    "SpaceTimePositionEmbedding": "position_embedding",
    "TemporalAttentionPooling": "attention",
    "TransformerBlock": "video_transformer",
    "TubeletEmbedding": "tubelet_embedding",
}

__all__ = sorted(_LAYER_MODULES)


__getattr__, __dir__ = lazy_attributes(__name__, _LAYER_MODULES)
