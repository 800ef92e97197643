"""Writing files so that a kill at any moment leaves the old file or the new one, never half of one."""

import contextlib
import errno
import os
import pathlib
import shutil
import tempfile


class DiskFullError(OSError):
    """A write that ran out of space; its message names the file and the free space."""


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    The file gets the permissions a plain ``open(path, "w")`` would give
    (``0666`` less the umask), not ``mkstemp``'s private ``0600``, so run
    files in a course's shared folder stay readable to the group. A write
    that runs out of space raises ``DiskFullError`` naming the file and the
    space left; the temporary file is removed whatever happens.

    Args:
        path: the file to write.

    Yields:
        The temporary path (a ``str``) to write to.

    Example:

    >>> with atomic_path("weights.npz") as temporary:  # doctest: +SKIP
    ...     np.savez(temporary, w=w)
    """
    path = pathlib.Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix="".join(path.suffixes))
    os.close(handle)
    try:
        try:
            yield temporary
            os.chmod(temporary, 0o666 & ~_umask())
            os.replace(temporary, path)
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                free = shutil.disk_usage(path.parent).free
                full = DiskFullError(f"cannot write {path}: the disk is full "
                                     f"({free / 2**20:.0f} MiB free in {path.parent})")
                full.errno = error.errno
                raise full from None
            raise
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text_atomically(path, text):
    """Write ``text`` to ``path`` through ``atomic_path``."""
    with atomic_path(path) as temporary:
        pathlib.Path(temporary).write_text(text, encoding="utf-8")


def remove_temporaries(folder, names):
    """Remove what a killed ``atomic_path`` left of each file in ``names`` (``.last.x1y2.keras``...)."""
    folder = pathlib.Path(folder)
    for name in names:
        for stale in folder.glob(f".{pathlib.Path(name).stem}.*"):
            if stale.is_file():
                stale.unlink()
