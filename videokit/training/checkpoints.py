"""A run's checkpoints, each carrying the state of the run it was saved in.

The state of a run (finished epochs, optimizer steps, the best score and its
epoch) is stored inside the checkpoint file itself: as an extra member of a
``.keras`` zip, or as an attribute of a ``.weights.h5`` file. Writing the
checkpoint and its state is then one rename, so no kill can leave weights of
one epoch beside the state of another; ``state.json`` is only a copy for
people and scripts to read.
"""

import json
import pathlib
import shutil
import zipfile

from videokit._files import atomic_path

_STATE_MEMBER = "videokit_state.json"  # inside a .keras zip
_STATE_ATTRIBUTE = "videokit_state"  # on a .weights.h5 file


def save_checkpoint(save, path, state):
    """Write a checkpoint with ``save(temporary_path)`` and store ``state`` in it, in one rename.

    Args:
        save: a function that writes the checkpoint to the path it is given,
            e.g. ``model.save`` or ``model.save_weights``.
        path: the checkpoint's path; ``.keras`` or ``.weights.h5``.
        state: a JSON-able dict.
    """
    with atomic_path(path) as temporary:
        save(temporary)
        _embed_state(temporary, state)


def copy_checkpoint(source, target):
    """Copy a checkpoint (state included) to ``target`` atomically."""
    with atomic_path(target) as temporary:
        shutil.copyfile(source, temporary)


def checkpoint_state(path):
    """The run state stored in the checkpoint at ``path``.

    Raises:
        ValueError: one line naming the file when it is missing, damaged or
            holds no videokit state.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: not found.")
    try:
        if path.name.endswith(".h5"):
            import h5py

            with h5py.File(path, "r") as file:
                text = file.attrs[_STATE_ATTRIBUTE]
        else:
            with zipfile.ZipFile(path) as archive:
                text = archive.read(_STATE_MEMBER)
        return json.loads(text)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: damaged or not a videokit checkpoint ({_reason(error)}).") from None


def _embed_state(path, state):
    text = json.dumps(state)
    if str(path).endswith(".h5"):
        import h5py

        with h5py.File(path, "r+") as file:
            file.attrs[_STATE_ATTRIBUTE] = text
    else:
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(_STATE_MEMBER, text)


def _reason(error):
    if isinstance(error, zipfile.BadZipFile):
        return "truncated or not a zip file"
    if isinstance(error, KeyError):
        return "no run state inside"
    return str(error).splitlines()[0] if str(error) else type(error).__name__
