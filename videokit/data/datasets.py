"""TEMPORARY stub (replaced by the data branch)."""

import dataclasses

from videokit.data.synthetic import SHAPE_CLASSES, moving_digits, moving_shapes


@dataclasses.dataclass(frozen=True)
class SyntheticDataset:
    name: str
    channels: int
    labelled: bool
    class_names: tuple
    description: str

    def videos(self, count, num_frames, size, seed):
        if self.name == "moving_shapes":
            videos, labels, _ = moving_shapes(count, num_frames=num_frames, size=size, seed=seed)
            return videos, labels
        return moving_digits(count, num_frames=num_frames, size=size, seed=seed), None


SYNTHETIC_DATASETS = {
    "moving_shapes": SyntheticDataset("moving_shapes", 3, True, SHAPE_CLASSES, "shapes"),
    "moving_digits": SyntheticDataset("moving_digits", 1, False, (), "digits"),
}


def synthetic_dataset(name):
    if name not in SYNTHETIC_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(SYNTHETIC_DATASETS)}.")
    return SYNTHETIC_DATASETS[name]
