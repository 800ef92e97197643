"""Video GANs: VGAN and MoCoGAN-style generators, a 3D-conv critic, a trainer.

One module per role:

* `losses`: `discriminator_loss`, `generator_loss` (non-saturating or hinge)
  and the `r1_penalty`.
* `generators`: `vgan_generator` (Vondrick, Pirsiavash & Torralba 2016, a 3D
  foreground stream and a 2D background stream mixed by a learned mask, see
  `videokit.layers.MaskedComposite`) and `mocogan_generator` (after Tulyakov
  et al. 2018: one content code per video, a recurrent motion code per frame,
  one shared image generator).
* `discriminator`: `video_discriminator`, strided `Conv3D` + LeakyReLU, one
  logit per clip.
* `trainer`: `VideoGAN`, a `keras.Model` whose `fit()` alternates a
  discriminator step and a generator step on the TensorFlow, JAX and PyTorch
  backends (the per-backend halves are in `_steps`), and `video_of`.

Generators are functional models with a dict output whose ``"video"`` entry is
the clip in ``[-1, 1]``; `VideoGAN` trains on that entry only. Every name is
importable from ``videokit.models.gan`` (and the builders and `VideoGAN` from
``videokit.models``).
"""

from videokit.layers.masked_composite import MaskedComposite
from videokit.models.gan.discriminator import video_discriminator
from videokit.models.gan.generators import mocogan_generator, vgan_generator
from videokit.models.gan.losses import LOSS_KINDS, discriminator_loss, generator_loss, r1_penalty
from videokit.models.gan.trainer import VideoGAN, video_of

__all__ = [
    "LOSS_KINDS",
    "MaskedComposite",
    "VideoGAN",
    "discriminator_loss",
    "generator_loss",
    "mocogan_generator",
    "r1_penalty",
    "vgan_generator",
    "video_discriminator",
    "video_of",
]
