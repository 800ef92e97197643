"""Which videos of a UCF101 / HMDB51 style folder belong to a set: class folders and official split files."""

import pathlib
import re

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".gif")
_HMDB_SPLIT = re.compile(r"^(?P<label>.+)_test_split(?P<split>\d+)\.txt$")


def class_names(root):
    """The sorted names of the class sub-folders of ``root`` (a ``ValueError`` when there are none)."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: dataset folder not found.")
    names = sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not names:
        raise ValueError(f"{root}: no class folders found; expected one sub-folder of videos per class.")
    return tuple(names)


def samples(root, names, split_file=None, split=1, subset="train"):
    """``(path, label)`` pairs of the videos of ``root`` that a split selects (all of them without one).

    Args:
        root: the dataset folder.
        names: its class names, as ``class_names`` gives them.
        split_file: ``None`` for every video; a UCF101 ``trainlist01.txt`` /
            ``testlist01.txt`` style list; or HMDB51's folder of
            ``<class>_test_split<N>.txt`` files.
        split: HMDB51 split number.
        subset: HMDB51 subset, ``"train"`` or ``"test"``.
    """
    root = pathlib.Path(root)
    if split_file is None:
        found = _folder_samples(root, names)
    elif pathlib.Path(split_file).is_dir():
        found = _hmdb_samples(root, names, pathlib.Path(split_file), split, subset)
    else:
        found = _ucf_samples(root, names, pathlib.Path(split_file))
    if not found:
        raise ValueError(f"{root}: no video files found (looked for {', '.join(VIDEO_SUFFIXES)}).")
    return found


def official_split(root, split_path, split=1, **options):
    """The training and test sets of an official UCF101 or HMDB51 split.

    Args:
        root: the dataset folder (one sub-folder of videos per class).
        split_path: UCF101's ``ucfTrainTestlist`` folder or one of its
            ``trainlistNN.txt`` files (the ``testlistNN.txt`` beside it is the
            test set), or HMDB51's folder of ``<class>_test_split<N>.txt``
            files.
        split: which of the three official splits (1, 2 or 3); ignored when
            ``split_path`` names a training list.
        **options: ``VideoFolder`` arguments (``num_frames``, ``size``,
            ``augment``, ``cache_dir``, ``sampling``...) for the training set;
            the test set takes the same but samples its clips at fixed places
            (``training=False``) without augmentation.

    Returns:
        A tuple ``(train, test)`` of ``VideoFolder`` objects.

    Example:

    >>> train, test = official_split("UCF-101", "ucfTrainTestlist", split=1, num_frames=16,
    ...                              size=(128, 171), crop_size=112, augment=True)  # doctest: +SKIP
    """
    from videokit.data.folder import VideoFolder

    split_path = pathlib.Path(split_path)
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3, got {split!r}.")
    train_list = split_path / f"trainlist{split:02d}.txt" if split_path.is_dir() else split_path
    sampling = options.get("sampling", "dense")
    test_options = dict(options, sampling="center" if sampling == "random" else sampling, training=False,
                        augment=False)
    if train_list.is_file():
        if "trainlist" not in train_list.name:
            raise ValueError(f"{train_list}: expected a UCF101 training list named like trainlist01.txt.")
        test_list = train_list.with_name(train_list.name.replace("trainlist", "testlist"))
        if not test_list.is_file():
            raise ValueError(f"{test_list}: the test list of {train_list.name} is missing.")
        return (VideoFolder(root, split_file=train_list, **options),
                VideoFolder(root, split_file=test_list, **test_options))
    if split_path.is_dir() and any(split_path.glob(f"*_test_split{split}.txt")):
        return (VideoFolder(root, split_file=split_path, split=split, subset="train", **options),
                VideoFolder(root, split_file=split_path, split=split, subset="test", **test_options))
    raise ValueError(f"{split_path}: neither a UCF101 split folder (with trainlist{split:02d}.txt) nor an "
                     f"HMDB51 one (with <class>_test_split{split}.txt files).")


def _folder_samples(root, names):
    return [
        (path, label)
        for label, name in enumerate(names)
        for path in sorted((root / name).iterdir())
        if path.suffix.lower() in VIDEO_SUFFIXES
    ]


def _ucf_samples(root, names, split_file):
    if not split_file.is_file():
        raise ValueError(f"{split_file}: split file not found.")
    label_of = {name: label for label, name in enumerate(names)}
    found = []
    for number, line in enumerate(_lines(split_file), start=1):
        if not line.strip():
            continue
        relative = line.split()[0]
        class_name = relative.replace("\\", "/").split("/")[0]
        if class_name not in label_of:
            raise ValueError(
                f"{split_file}, line {number}: unknown class {class_name!r}; "
                f"{root} has class folders {list(names[:5])}{'...' if len(names) > 5 else ''}."
            )
        path = root / relative
        if not path.is_file():
            raise ValueError(f"{split_file}, line {number}: {path} does not exist.")
        found.append((path, label_of[class_name]))
    return found


def _hmdb_samples(root, names, split_dir, split, subset):
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}.")
    wanted_mark = "1" if subset == "train" else "2"
    label_of = {name: label for label, name in enumerate(names)}
    found = []
    for split_file in sorted(split_dir.iterdir()):
        match = _HMDB_SPLIT.match(split_file.name)
        if not match or int(match["split"]) != split:
            continue
        class_name = match["label"]
        if class_name not in label_of:
            raise ValueError(f"{split_file}: unknown class {class_name!r}; no folder {root / class_name}.")
        for line in _lines(split_file):
            parts = line.split()
            if len(parts) == 2 and parts[1] == wanted_mark:
                found.append((root / class_name / parts[0], label_of[class_name]))
    return found


def _lines(split_file):
    try:
        return split_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise ValueError(f"{split_file}: cannot read the split file ({error.strerror}).") from None
