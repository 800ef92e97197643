"""A folder of decoded frames: each video decoded once, whole, and every later clip cut from it.

One ``.npy`` file of ``uint8`` frames per video and frame size, named after
the video's path, size and modification time, so that a changed video is
decoded again and several frame sizes live side by side. Files are written
beside their final name and renamed (``videokit._files.atomic_path``), so a
reader never sees half of one, and get the user's usual permissions.
"""

import concurrent.futures
import functools
import hashlib
import os
import pathlib
import shutil

import numpy as np
from tqdm import tqdm

from videokit import io
from videokit._files import atomic_path
from videokit.data._locking import HoldsLock


class FrameCache(HoldsLock):
    """The decoded frames of videos at one frame size, in ``folder``.

    Args:
        folder: where the ``.npy`` files go (made on first write).
        size: ``(height, width)`` the frames are resized to.
    """

    def __init__(self, folder, size):
        self.folder = pathlib.Path(folder)
        self.size = tuple(size)
        self._paths = {}
        super().__init__()

    def path(self, video):
        """Where the frames of ``video`` go; looked up once per video (the file is assumed not to change after)."""
        with self._lock:
            cached = self._paths.get(video)
        if cached is not None:
            return cached
        video = pathlib.Path(video)
        try:
            status = video.stat()
        except FileNotFoundError:
            raise io.VideoReadError(video, "no such file.") from None
        height, width = self.size
        key = f"{video.resolve()}|{status.st_size}|{status.st_mtime_ns}|{height}x{width}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        cached = self.folder / f"{video.stem}.{height}x{width}.{digest}.npy"
        with self._lock:
            self._paths[video] = cached
        return cached

    def holds(self, video):
        return self.path(video).exists()

    def frames(self, video):
        """All frames of ``video`` at ``size``, read from the cache or decoded into it."""
        cached = self.path(video)
        if cached.exists():
            return open_cached(cached)
        frames = io.read_video(video, size=self.size, sampling="all")
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(cached) as temporary:  # readers never see half a file
            np.save(temporary, frames)
        return frames

    def frame_count(self, video):
        """The number of frames cached for ``video``, from the file's header (the file is not kept open)."""
        cached = self.path(video)
        try:
            with open(cached, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, _ = read_header(handle)
        except (ValueError, OSError) as error:
            raise ValueError(f"{cached}: unreadable cache file ({error}); delete it and the video is "
                             "decoded again.") from None
        return shape[0]

    def fill(self, videos, *, progress=True, workers=None, stop_at_first_problem=False):
        """Decode every video of ``videos`` not yet cached, in parallel threads.

        Checks first that the decoded frames fit in the free disk space.

        Args:
            videos: video paths.
            progress: show a tqdm progress bar.
            workers: decoding threads (default: one per CPU core).
            stop_at_first_problem: raise the first ``VideoReadError`` at once,
                without decoding the other videos first.

        Returns:
            A tuple ``(decoded, problems)``: the number of videos decoded, and
            ``(path, VideoReadError)`` pairs for those that could not be read.
        """
        missing = [video for video in videos if not self.holds(video)]
        if not missing:
            return 0, []
        self._check_free_space(missing)
        problems = []
        with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
            decoding = {pool.submit(self.frames, video): video for video in missing}
            for done in tqdm(concurrent.futures.as_completed(decoding), total=len(missing), unit="video",
                             desc=f"decoding videos into {self.folder}", disable=not progress):
                try:
                    done.result()
                except io.VideoReadError as error:
                    if stop_at_first_problem:
                        pool.shutdown(cancel_futures=True)  # stop now, not after decoding every other video
                        raise
                    problems.append((decoding[done], error))
        order = {video: number for number, video in enumerate(missing)}
        problems.sort(key=lambda problem: order[problem[0]])
        return len(missing) - len(problems), problems

    def _check_free_space(self, videos):
        """Refuse to start a cache that would fill the disk (estimated from up to 64 videos)."""
        probed = videos[:: max(1, len(videos) // 64)]
        frames = sum(_probed_frame_count(video) for video in probed) * len(videos) / len(probed)
        needed = frames * self.size[0] * self.size[1] * 3
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"{self.folder}: cannot make the cache folder ({error.strerror}).") from None
        free = shutil.disk_usage(self.folder).free
        if needed > 0.9 * free:
            raise ValueError(
                f"{self.folder}: the decoded frames of {len(videos)} videos need about {needed / 2**30:.1f} GiB "
                f"and only {free / 2**30:.1f} GiB are free; choose another cache folder or a smaller frame size."
            )


@functools.lru_cache(maxsize=512)  # memory maps of recently used videos; each holds a file descriptor
def open_cached(path):
    """The frames in a cache file, memory-mapped; a ``ValueError`` saying what to do when it is damaged."""
    try:
        return np.load(path, mmap_mode="r")
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: unreadable cache file ({error}); delete it and the video is decoded again.") from None


def _probed_frame_count(video):
    try:
        return io.probe(video).num_frames
    except io.VideoReadError:
        return 0  # reported when the video is decoded
