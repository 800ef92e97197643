"""The ``videokit`` command line (also ``python -m videokit``)."""

import argparse
import pathlib
import sys
import time


def main(argv=None):
    parser = _parser()
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "run"):
        parser.print_help()
        return 2
    try:
        return arguments.run(arguments) or 0
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        print(f"videokit {arguments.command}: error: {error}", file=sys.stderr)
        return 2


def _parser():
    parser = argparse.ArgumentParser(prog="videokit", description="Video deep learning with Keras 3.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="write synthetic clips as real videos, decode them, draw a frame grid")
    demo.add_argument("--out", type=pathlib.Path, default=pathlib.Path("videokit-demo"), help="output folder")
    demo.add_argument("--clips", type=int, default=8, help="number of clips (default 8, one per motion class)")
    demo.add_argument("--overwrite", action="store_true", help="replace files from an earlier demo")
    demo.set_defaults(run=_demo)

    info = commands.add_parser("info", help="print what probe() finds in video files")
    info.add_argument("videos", nargs="+", type=pathlib.Path)
    info.set_defaults(run=_info)
    return parser


def _demo(arguments):
    import matplotlib

    matplotlib.use("Agg")
    from videokit import io, viz
    from videokit.data import moving_shapes

    grid_path = arguments.out / "frame_grid.png"
    if grid_path.exists() and not arguments.overwrite:
        raise FileExistsError(f"{arguments.out} already holds a demo; pass --overwrite to replace it.")
    videos, labels, class_names = moving_shapes(arguments.clips, num_frames=32, size=96)
    print(f"made {len(videos)} synthetic clips of shape {videos.shape[1:]} ({len(class_names)} motion classes)")
    clips, titles = [], []
    for video, label in zip(videos, labels):
        path = io.write_video(arguments.out / f"{class_names[label]}.mp4", video, fps=16, overwrite=arguments.overwrite)
        started = time.perf_counter()
        clip = io.read_video(path, num_frames=8, sampling="uniform", size=64)
        elapsed = time.perf_counter() - started
        info = io.probe(path)
        print(f"  {path}: {info.num_frames} frames, {info.width}x{info.height}, {info.fps:g} fps, "
              f"{info.codec}; decoded {clip.shape} in {elapsed * 1000:.1f} ms")
        clips.append(clip)
        titles.append(class_names[label])
    figure = viz.frame_grid(clips, titles=titles, path=grid_path)
    print(f"frame grid of the decoded clips: {grid_path}")
    figure.clf()
    return 0


def _info(arguments):
    from videokit import io

    for path in arguments.videos:
        info = io.probe(path)
        print(f"{path}: {info.num_frames} frames, {info.width}x{info.height}, {info.fps:g} fps, "
              f"{info.duration:.2f} s, codec {info.codec}, rotation {info.rotation}")
    return 0
