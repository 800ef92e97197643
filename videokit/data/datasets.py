"""The synthetic datasets and what each one is: channels, labels, class names.

Training, the CLI and benchmarks read these facts here instead of checking a
dataset's name. ``VideoFolder`` has the same three attributes (``channels``,
``labelled``, ``class_names``), so code that takes "a dataset" works with both.
This module needs only NumPy (and tqdm for progress bars), not Keras.
"""

import dataclasses
from collections.abc import Callable

from videokit.data.synthetic import SHAPE_CLASSES, moving_digits, moving_shapes


@dataclasses.dataclass(frozen=True)
class SyntheticDataset:
    """A dataset generated on the spot, and its facts.

    Attributes:
        name: the name ``--data`` takes (``"moving_shapes"``).
        channels: colour channels of every frame (3 for RGB, 1 for grey).
        labelled: whether clips come with class labels.
        class_names: the class of each label number (empty when unlabelled).
        description: one line for listings.
    """

    name: str
    channels: int
    labelled: bool
    class_names: tuple
    description: str
    _generate: Callable = dataclasses.field(repr=False, compare=False)

    def videos(self, count, num_frames, size, seed, *, progress=None):
        """Generate ``count`` clips.

        Args:
            count: number of clips.
            num_frames: frames per clip.
            size: frame height and width in pixels (frames are square).
            seed: integer seed; clip ``i`` depends only on ``(seed, i)``.
            progress: show a progress bar (by default only for large ``count``).

        Returns:
            A tuple ``(videos, labels)``: ``videos`` a ``uint8`` array of shape
            ``(count, num_frames, size, size, channels)``, ``labels`` an
            ``int32`` array of shape ``(count,)`` indexing ``class_names``, or
            ``None`` for an unlabelled dataset.
        """
        return self._generate(count, num_frames=num_frames, size=size, seed=seed, progress=progress)


def _moving_shapes(count, **options):
    videos, labels, _ = moving_shapes(count, **options)
    return videos, labels


def _moving_digits(count, **options):
    return moving_digits(count, **options), None


SYNTHETIC_DATASETS = {
    "moving_shapes": SyntheticDataset(
        name="moving_shapes", channels=3, labelled=True, class_names=tuple(SHAPE_CLASSES),
        description="shapes doing one of 8 motions over clutter, RGB, labelled (action recognition)",
        _generate=_moving_shapes,
    ),
    "moving_digits": SyntheticDataset(
        name="moving_digits", channels=1, labelled=False, class_names=(),
        description="Moving-MNIST-style bouncing digits, grey, unlabelled (next-frame prediction, generation)",
        _generate=_moving_digits,
    ),
}


def synthetic_dataset(name):
    """The ``SyntheticDataset`` called ``name``; a ``ValueError`` naming the choices otherwise."""
    try:
        return SYNTHETIC_DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown synthetic dataset {name!r}; choose one of "
                         f"{', '.join(sorted(SYNTHETIC_DATASETS))}.") from None
