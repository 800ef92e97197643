"""Video model builders, one model family per module, imported on first use.

Every builder registered in `videokit.registry` is importable from here, e.g.
``from videokit.models import c3d``; so are the few other public names below.
"""

from videokit import registry
from videokit._lazy import lazy_attributes

# Public names that are not registered builders: {name: module under videokit.models}.
_OTHER_NAMES = {
    "rollout": "convlstm",
    "inflate": "inflation",
    "stream": "streaming",
    "VideoStream": "streaming",
    "step_model": "streaming",
    "VideoGAN": "gan",
    "video_discriminator": "gan",
    "video_of": "gan",
    "discriminator_loss": "gan",
    "VideoMAE": "videomae",
    "generator_loss": "gan",
}
_MODEL_MODULES = {
    **{
        entry.builder: entry.module.removeprefix(f"{__name__}.")
        for entry in map(registry.get_model, registry.list_models())
    },
    **_OTHER_NAMES,
}

__all__ = sorted(_MODEL_MODULES)


__getattr__, __dir__ = lazy_attributes(__name__, _MODEL_MODULES)
