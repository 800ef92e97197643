"""What a training run is: the model and data names and ``RunConfig``.

Kept free of Keras so that the command line starts fast and ``--help`` works
before any backend is imported.
"""

import dataclasses
import json
import pathlib

from videokit import registry

MODEL_NAMES = registry.list_models()  # what --model takes, from the one table of models
SYNTHETIC_DATA = ("moving_shapes", "moving_digits")  # videokit.data.datasets has their facts; a test keeps both in step
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("none", "mirrored", "multi-worker")  # multi-worker: one process per machine, see videokit.cluster
SAMPLINGS = ("dense", "segment", "uniform")  # which frames of a video make a clip: videokit.data.sampling


@dataclasses.dataclass
class RunConfig:
    """What to train and how; saved as ``config.json`` in the run directory.

    Args:
        model: one of ``MODEL_NAMES``.
        data: ``"moving_shapes"``, ``"moving_digits"`` or a folder of videos
            with one sub-folder per class.
        epochs: total number of epochs (a resumed run trains up to it).
        batch_size: clips per batch.
        clip: ``(frames, height, width)`` of the clips fed to the model.
        samples: clips to generate for synthetic data.
        preset: the model builder's preset: ``"small"``, ``"paper"`` or another
            the model has (``"torchvision"`` for the video ResNets, to fine-tune
            weights imported from torchvision).
        precision: Keras dtype policy.
        jit: compile the training step with XLA.
        strategy: ``"none"``, ``"mirrored"`` (data parallel on all devices)
            or ``"multi-worker"`` (on all devices of several processes or
            machines; which worker a process is comes from ``videokit.cluster``).
        learning_rate: Adam learning rate.
        validation_fraction: share of each class held out for validation,
            when there is no ``split_file``.
        split_file: for a folder of videos, UCF101's ``ucfTrainTestlist``
            folder (or a ``trainlistNN.txt``) or HMDB51's split folder: train
            on an official training set and validate on its test set.
        split: which official split (1, 2 or 3).
        cache: a folder to decode the videos into once (see
            ``videokit.data.VideoFolder``), or ``None`` to decode every clip.
        skip_bad_videos: leave out the videos of a folder that cannot be
            read (listed once) instead of stopping at the first.
        sampling: which frames of a folder's videos make a clip: ``"dense"``
            (consecutive frames, a random start in training and the centred
            clip for validation), ``"segment"`` (TSN: one frame from each of
            ``frames`` equal segments) or ``"uniform"`` (frames spread evenly
            over the whole video); see ``videokit.data.VideoFolder``.
        seed: seed for data, initial weights and shuffling.
        init_from: start from the weights of another run (a run directory) or
            a ``.keras`` file: every layer whose name and weight shapes match
            (see ``videokit.training.transfer``).
        freeze: ``"none"``, or ``"backbone"`` to train only the
            ``"predictions"`` head.
        augment: classifiers' training augmentation, names from
            ``videokit.data.augmentation.OPERATIONS`` separated by commas
            (``"crop,flip,mixup"``), or ``"none"``; ``None`` keeps the default
            (a random crop position and flip for folders of videos, nothing
            for synthetic clips).
        mixup_alpha: MixUp's Beta parameter (with ``mixup`` in ``augment``).
        cutmix_alpha: CutMix's Beta parameter (with ``cutmix`` in ``augment``).
        backbone_lr_scale: the backbone's updates (every layer but the
            ``"predictions"`` head) scaled by this, relative to the head's:
            discriminative learning rates (``0`` keeps the backbone fixed).
        unfreeze_after: with ``freeze="backbone"``, train the whole model
            from this many finished epochs on (``None``: stay frozen).
    """

    model: str = "cnn_lstm"
    data: str = "moving_shapes"
    epochs: int = 10
    batch_size: int = 16
    clip: tuple = (8, 32, 32)
    samples: int = 1600
    preset: str = "small"
    precision: str = "float32"
    jit: bool = False
    strategy: str = "none"
    learning_rate: float = 2e-3
    validation_fraction: float = 0.2
    split_file: str = None
    split: int = 1
    cache: str = None
    skip_bad_videos: bool = False
    seed: int = 0
    sampling: str = "dense"
    init_from: str = None
    freeze: str = "none"
    augment: str = None
    mixup_alpha: float = 0.2
    cutmix_alpha: float = 1.0
    backbone_lr_scale: float = 1.0
    unfreeze_after: int = None

    def __post_init__(self):
        self.clip = tuple(int(size) for size in self.clip)
        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}.")
        presets = registry.get_model(self.model).presets
        if self.preset not in presets:
            raise ValueError(f"{self.model} has the presets {', '.join(presets)}; got preset {self.preset!r}.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}.")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}.")
        if len(self.clip) != 3 or min(self.clip) < 1:
            raise ValueError(f"clip must be FRAMESxHEIGHTxWIDTH, e.g. 16x112x112; got {self.clip}.")
        if self.data not in SYNTHETIC_DATA and not pathlib.Path(self.data).is_dir():
            raise ValueError(f"data must be {' or '.join(SYNTHETIC_DATA)} or a folder of videos; "
                             f"{self.data} is neither.")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"unknown sampling {self.sampling!r}; choose one of {', '.join(SAMPLINGS)}.")
        if self.sampling != "dense" and self.data in SYNTHETIC_DATA:
            raise ValueError(f"{self.data} clips are made at the clip length, so there are no frames to sample; "
                             "--sampling is for folders of videos.")
        if (self.split_file or self.cache or self.skip_bad_videos) and self.data in SYNTHETIC_DATA:
            raise ValueError(f"split files, caches and skipping bad videos are for folders of videos, not "
                             f"{self.data}; leave out --split-file, --cache and --skip-bad-videos.")
        if self.freeze not in ("none", "backbone"):
            raise ValueError(f"unknown freeze {self.freeze!r}; choose 'none' or 'backbone'.")
        if self.init_from and not pathlib.Path(self.init_from).exists():
            raise ValueError(f"--init-from {self.init_from}: no such run directory or .keras file.")
        self._check_recipe()
        if self.epochs < 1 or self.batch_size < 1 or self.samples < 2:
            raise ValueError("epochs and batch_size must be at least 1 and samples at least 2.")

    def augmentation(self):
        """The ``Augmentation`` of the training clips (``augment=None``: ``True``'s for folders, none for arrays)."""
        from videokit.data.augmentation import Augmentation

        operations = self.augment if self.augment is not None else self.data not in SYNTHETIC_DATA
        return Augmentation(operations, mixup_alpha=self.mixup_alpha, cutmix_alpha=self.cutmix_alpha)

    def _check_recipe(self):
        """Augmentation and fine-tuning settings: one line for what cannot work."""
        augmentation = self.augmentation()  # raises for an unknown name
        if self.augment not in (None, "none", "") and registry.get_model(self.model).task != "classifier":
            raise ValueError(f"--augment is for classifiers; {self.model} is a {registry.get_model(self.model).task}.")
        if augmentation and self.strategy == "multi-worker" and self.data in SYNTHETIC_DATA:
            raise ValueError(f"--augment with --strategy multi-worker needs a folder of videos, not {self.data}.")
        if not 0 <= self.backbone_lr_scale:
            raise ValueError(f"--backbone-lr-scale must be at least 0; got {self.backbone_lr_scale}.")
        if self.unfreeze_after is not None and (self.freeze != "backbone" or self.unfreeze_after < 0):
            raise ValueError(f"--unfreeze-after N (N >= 0 finished epochs) goes with --freeze backbone; got "
                             f"--unfreeze-after {self.unfreeze_after} with --freeze {self.freeze}.")

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


def parse_clip(text):
    """``"16x112x112"`` -> ``(16, 112, 112)``."""
    try:
        frames, height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"clip must look like FRAMESxHEIGHTxWIDTH, e.g. 16x112x112; got {text!r}.") from None
    return frames, height, width


def saved_config(run_dir):
    """The ``RunConfig`` saved in a run directory, or ``None``."""
    path = pathlib.Path(run_dir) / "config.json"
    return RunConfig.from_json(path.read_text()) if path.exists() else None


def check_run_dir(run_dir, config, *, resume=False, overwrite=False):
    """Refuse a run directory that ``config`` cannot use, before anything is imported or written.

    Args:
        run_dir: the run directory asked for.
        config: the ``RunConfig`` of the new or resumed run.
        resume: continue the run saved in ``run_dir``.
        overwrite: replace the run saved in ``run_dir``.

    Returns:
        The saved ``RunConfig`` when resuming, else ``None``.

    Raises:
        ValueError: nothing to resume, another model's run, a folder that is
            not a videokit run, or a run that would be replaced without
            ``overwrite``.
    """
    run_dir = pathlib.Path(run_dir)
    saved = run_dir / "config.json"
    if resume:
        if not saved.exists():
            raise ValueError(f"{run_dir}: no run to resume (config.json not found).")
        previous = RunConfig.from_json(saved.read_text())
        if previous.model != config.model:
            raise ValueError(f"{run_dir} belongs to a {previous.model} run, not {config.model}; "
                             "choose another --run-dir.")
        return previous
    if run_dir.exists() and any(run_dir.iterdir()):
        if not saved.exists():
            raise ValueError(f"{run_dir} is not empty and is not a videokit run; choose another --run-dir.")
        if not overwrite:
            raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it "
                             "or --overwrite to start again.")
    return None
