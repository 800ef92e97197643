"""Run notebooks in JupyterLab in headless Chromium, as a student does, and check what they show.

A student opens a notebook in JupyterLab, clicks *Run > Run All Cells*, reads
the outputs and saves. This script does the same in a real browser: it starts
JupyterLab from the Python that runs it (the course install) on a copy of the
notebooks, drives Debian's ``chromium`` with Playwright's sync API (the system
browser; Playwright downloads nothing), and checks, for each notebook:

* every code cell ran: it shows an execution count;
* no cell shows an error, in the notebook as Ctrl+S saves it (in the
  page a traceback and a line on stderr look the same);
* cells calling ``grader.check("qN")`` (a blank exercise): each shows otter's
  result for qN, which says that the question failed;
* notebooks calling ``animate(``: each ``<video>`` in the outputs is playable:
  its metadata loads, its duration is positive and ``play()`` moves its
  ``currentTime`` forward.

JupyterLab runs with ``CI=true`` (the notebooks' small size) and with its own
fresh configuration, settings and IPython profile, as on a new student machine.
A screenshot of each whole notebook, and one of each video, go to
``--screenshots``. One line is printed per check, and a last line
``browser: N passed, M failed``; the exit status is 0 only if M is 0.

Usage:
    python tools/browser_check.py        # exercises/01_convolution.ipynb, notebooks/00_video_as_tensors.ipynb
    python tools/browser_check.py --screenshots /tmp/shots exercises/02_pooling.ipynb

Needs ``apt-get install chromium``, ``pip install playwright`` (no
``playwright install``) and JupyterLab (``pip install -e ".[course]"``).
"""

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import pathlib
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import sync_playwright
except ImportError:  # reported by missing_requirement, with what to install
    sync_playwright = None

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOKS = ("exercises/01_convolution.ipynb", "notebooks/00_video_as_tensors.ipynb")
DEFAULT_CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 900}
MAX_SCREENSHOT_HEIGHT = 16_000  # Chromium's largest texture; taller notebooks are cut
SERVER_START_TIMEOUT = 120.0
KERNEL_START_TIMEOUT = 120.0
SAVE_TIMEOUT = 30.0
VIDEO_TIMEOUT = 10.0

GRADER_CHECK = re.compile(r"""^\s*grader\.check\(\s*["'](\w+)["']\s*\)\s*;?\s*$""", re.MULTILINE)
ANIMATE_CALL = re.compile(r"\banimate\(")
EXECUTION_COUNT = re.compile(r"^\[\d+\]:$")


class NotebookFailure(Exception):
    """A step of driving a notebook that did not happen: the notebook's remaining checks cannot run."""


@dataclasses.dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""

    def line(self):
        detail = f": {self.detail}" if self.detail else ""
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}{detail}"


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        description="Run notebooks in JupyterLab in headless Chromium and check what a student sees.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        default=list(DEFAULT_NOTEBOOKS),
        help="notebooks inside the repository, relative to its root or to the working directory",
    )
    parser.add_argument(
        "--screenshots",
        type=pathlib.Path,
        default=ROOT / "browser-screenshots",
        help="folder for the screenshots (created; files of the same name are replaced)",
    )
    parser.add_argument("--chromium", default=DEFAULT_CHROMIUM, help="the Chromium executable to drive")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds that Run All may take on one notebook",
    )
    return parser.parse_args(argv)


def missing_requirement(chromium):
    """What to install for this script to run, or None when nothing is missing."""
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        return f"no Chromium at {chromium}: apt-get install chromium (or pass --chromium PATH)"
    if sync_playwright is None:
        return f"Playwright is not installed in {sys.executable}: pip install playwright (no browser download needed)"
    if importlib.util.find_spec("jupyterlab") is None:
        return f'JupyterLab is not installed in {sys.executable}: pip install -e ".[course]"'
    return None


# --------------------------------------------------------------------------- the notebooks' copies


def repository_path(argument):
    """`argument` as a path relative to the repository root."""
    for candidate in (pathlib.Path(argument), ROOT / argument):
        if candidate.is_file():
            try:
                return candidate.resolve().relative_to(ROOT)
            except ValueError:
                raise SystemExit(f"browser_check: {argument}: not a notebook inside {ROOT}") from None
    raise SystemExit(f"browser_check: {argument}: no such notebook")


def copy_notebooks(paths, folder):
    """Copies the notebooks at `paths` (relative to the repository root) under `folder`, in the same layout."""
    for path in paths:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, folder / path)


def read_cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def cell_source(cell):
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def screenshot_stem(path):
    """``exercises/01_convolution.ipynb`` -> ``exercises-01_convolution``."""
    return str(path.with_suffix("")).replace(os.sep, "-")


# --------------------------------------------------------------------------- JupyterLab


@dataclasses.dataclass
class JupyterLab:
    port: int
    token: str
    process: subprocess.Popen
    log_path: pathlib.Path

    def url(self, path, **query):
        query = urllib.parse.urlencode({**query, "token": self.token})
        return f"http://127.0.0.1:{self.port}/{path}?{query}"

    def request(self, path, method="GET"):
        request = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    def log_tail(self, lines=5):
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return " | ".join(text.strip().splitlines()[-lines:])


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_jupyter_environment(home):
    """Environment variables for a JupyterLab with no user configuration, settings, workspaces or profile.

    The only setting written turns off the "official Jupyter news" prompt, which
    needs the network and would cover outputs in the screenshots.
    """
    folders = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTERLAB_SETTINGS_DIR": home / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "workspaces",
        "IPYTHONDIR": home / "ipython",
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    notification = folders["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    return {name: str(folder) for name, folder in folders.items()}


@contextlib.contextmanager
def running_jupyter_lab(root_dir, home):
    """Starts ``jupyter lab`` on `root_dir`, waits until it answers, and always stops it and its kernels."""
    token = secrets.token_hex(24)
    port = free_port()
    environment = {**os.environ, **fresh_jupyter_environment(home), "CI": "true", "JUPYTER_TOKEN": token}
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--allow-root",  # CI containers run as root, which JupyterLab otherwise refuses
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
    ]  # fmt: skip
    log_path = home / "jupyter-lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    lab = JupyterLab(port, token, process, log_path)
    try:
        wait_until_answering(lab)
        yield lab
    finally:
        stop(lab)


def wait_until_answering(lab):
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise NotebookFailure(f"jupyter lab exited with status {lab.process.returncode}: {lab.log_tail()}")
        with contextlib.suppress(OSError):
            lab.request("api/status")
            return
        time.sleep(0.5)
    raise NotebookFailure(f"jupyter lab did not answer within {SERVER_START_TIMEOUT:.0f} s: {lab.log_tail()}")


def stop(lab):
    """Asks the server to shut down (which stops its kernels); terminates it if it does not."""
    if lab.process.poll() is None:
        with contextlib.suppress(OSError):
            lab.request("api/shutdown", method="POST")
    try:
        lab.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        lab.process.terminate()
        try:
            lab.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            lab.process.kill()  # its kernels watch their parent and exit with it
            lab.process.wait()


# --------------------------------------------------------------------------- the student's actions

# One entry per cell of the notebook on screen: its kind, its prompt and the text of its outputs.
CELLS_ON_SCREEN = """(panel) => [...panel.querySelectorAll('.jp-Notebook .jp-Cell')].map((cell) => ({
    code: cell.classList.contains('jp-CodeCell'),
    prompt: (cell.querySelector('.jp-InputPrompt')?.textContent ?? '').trim(),
    output: [...cell.querySelectorAll('.jp-OutputArea-output')].map((output) => output.textContent).join('\\n'),
}))"""

# Marks the panel once a cell shows [*]: Run All has queued the cells. A MutationObserver sees the mark
# even when a short notebook runs between two polls, and prompts kept from a saved run do not count.
WATCH_FOR_RUN = """(panel) => {
    const queued = () => [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .some((prompt) => prompt.textContent.trim() === '[*]:');
    new MutationObserver((mutations, observer) => {
        if (queued()) {
            panel.dataset.browserCheckRun = 'started';
            observer.disconnect();
        }
    }).observe(panel, {subtree: true, childList: true, characterData: true});
}"""

RUN_STARTED = "(panel) => panel.dataset.browserCheckRun === 'started'"

# True once no cell waits or runs and the kernel is idle (after an error, JupyterLab clears the queue).
RUN_FINISHED = """(panel) => {
    const status = panel.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map((p) => p.textContent.trim());
    return status === 'idle' && !prompts.includes('[*]:');
}"""

# Loads, plays and measures one <video>; returns what it saw, for the check and its message.
PLAY_VIDEO = """async (video, timeoutMs) => {
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const deadline = performance.now() + timeoutMs;
    while (video.readyState < 1 && !video.error && performance.now() < deadline) await sleep(100);
    const seen = {
        readyState: video.readyState,
        duration: video.duration,
        error: video.error ? `MediaError ${video.error.code}: ${video.error.message}` : null,
        h264: video.canPlayType('video/mp4; codecs="avc1.640028"') || 'no',
        start: null,
        end: null,
    };
    if (video.readyState < 1) return seen;
    video.pause();
    video.currentTime = 0;
    try {
        await video.play();
    } catch (error) {
        seen.error = `play() failed: ${error}`;
        return seen;
    }
    seen.start = video.currentTime;
    while (video.currentTime <= seen.start && performance.now() < deadline) await sleep(50);
    seen.end = video.currentTime;
    seen.readyState = video.readyState;
    return seen;
}"""


def open_notebook(page, lab, path):
    """Opens `path` in a fresh JupyterLab workspace and waits until its kernel is idle; returns its panel.

    Right after JupyterLab starts, it may ask which kernel to start before it
    knows its kernels; a student then clicks *Select* on the kernel it offers,
    and so does this function, with a note.
    """
    page.goto(lab.url(f"lab/tree/{urllib.parse.quote(path.as_posix())}", reset=""))
    panel = page.locator(".jp-NotebookPanel").first
    idle = panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    kernel_dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    deadline = time.monotonic() + KERNEL_START_TIMEOUT
    while time.monotonic() < deadline:
        if kernel_dialog.is_visible():
            offered = kernel_dialog.locator("select").evaluate("(select) => select.selectedOptions[0]?.text")
            kernel_dialog.locator(".jp-Dialog-button.jp-mod-accept").click()  # labelled Select
            print(f"NOTE  {path.as_posix()}: JupyterLab asked to select a kernel; clicked Select ({offered})")
        elif kernel_is_idle(lab, path) and idle.count():
            return panel
        page.wait_for_timeout(500)
    raise NotebookFailure(f"the kernel was not idle {KERNEL_START_TIMEOUT:.0f} s after opening")


def kernel_is_idle(lab, path):
    """Whether the server has a kernel for the notebook at `path` and that kernel is idle."""
    try:
        sessions = json.loads(lab.request("api/sessions"))
    except OSError as error:
        raise NotebookFailure(f"jupyter lab stopped answering ({error}): {lab.log_tail()}") from None
    return any(
        session["path"] == path.as_posix() and (session.get("kernel") or {}).get("execution_state") == "idle"
        for session in sessions
    )


def run_all_cells(page, panel, timeout):
    """Clicks *Run > Run All Cells* and waits until no cell waits or runs; returns the seconds it took."""
    panel_element = panel.element_handle()
    panel_element.evaluate(WATCH_FOR_RUN)
    started = time.monotonic()
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    try:
        page.wait_for_function(RUN_STARTED, arg=panel_element, timeout=30_000)
    except PlaywrightTimeoutError:
        raise NotebookFailure("no cell was queued ([*]) 30 s after Run > Run All Cells") from None
    try:
        page.wait_for_function(RUN_FINISHED, arg=panel_element, timeout=timeout * 1000, polling=1000)
    except PlaywrightTimeoutError:
        raise NotebookFailure(f"Run All had not finished after {timeout:.0f} s") from None
    return time.monotonic() - started


def save_notebook(page, panel):
    """Saves with the keyboard shortcut and waits until the tab no longer shows unsaved changes."""
    panel.locator(".jp-Notebook").click(position={"x": 5, "y": 5})  # command mode, focus in the notebook
    page.keyboard.press("Escape")
    page.keyboard.press("ControlOrMeta+s")
    unsaved = page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")
    try:
        unsaved.wait_for(state="detached", timeout=SAVE_TIMEOUT * 1000)
    except PlaywrightTimeoutError:
        raise NotebookFailure(f"the notebook still had unsaved changes {SAVE_TIMEOUT:.0f} s after Ctrl+S") from None


def full_notebook_screenshot(page, panel, path):
    """A screenshot of the whole notebook: the window is made as tall as the notebook for the shot."""
    scroller = panel.locator(".jp-WindowedPanel-outer")
    hidden = scroller.evaluate("(outer) => outer.scrollHeight - outer.clientHeight")
    height = min(VIEWPORT["height"] + hidden, MAX_SCREENSHOT_HEIGHT)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    scroller.evaluate("(outer) => outer.scrollTo(0, 0)")
    page.wait_for_timeout(1000)  # layout and images of the cells that came into view
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size(VIEWPORT)


# --------------------------------------------------------------------------- the checks


def check_cells_ran(name, cells, seconds):
    unrun = [index for index, cell in enumerate(cells) if cell["code"] and not EXECUTION_COUNT.match(cell["prompt"])]
    code_cells = sum(cell["code"] for cell in cells)
    if unrun:
        return Check(f"{name}: every code cell ran", False, f"no execution count in cells {unrun} (0-based)")
    return Check(f"{name}: every code cell ran", True, f"{code_cells} cells in {seconds:.0f} s")


def check_no_errors(name, saved_cells):
    errors = [
        f"cell {index}: {output['ename']}: {output['evalue']}"
        for index, cell in enumerate(saved_cells)
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    ]
    return Check(f"{name}: no cell shows an error", not errors, "; ".join(errors))


def check_failures_shown(name, sources, cells):
    """One check per ``grader.check`` cell: its output names the question and says that a test failed."""
    checks = []
    for index, source in enumerate(sources):
        match = GRADER_CHECK.search(source)
        if not match:
            continue
        question = match.group(1)
        text = cells[index]["output"]
        shown = text.count(f"{question} results") == 1 and "Test case failed" in text
        last_line = text.strip().splitlines()[-1].strip() if text.strip() else "no output"
        detail = f"cell {index}: {last_line[:100]}" if shown else f"cell {index} shows: {text.strip()[:200]!r}"
        checks.append(Check(f"{name}: grader.check({question!r}) shows the failure", shown, detail))
    return checks


def check_videos(name, page, panel, stem, screenshots):
    """One check per ``<video>`` in the outputs (and a failed one if there is none)."""
    videos = panel.locator(".jp-OutputArea video")
    if videos.count() == 0:
        return [Check(f"{name}: a <video> in the outputs", False, "none, though a cell calls animate(")]
    checks = []
    for number in range(1, videos.count() + 1):
        video = videos.nth(number - 1)
        video.scroll_into_view_if_needed()
        seen = video.evaluate(PLAY_VIDEO, VIDEO_TIMEOUT * 1000)
        video.screenshot(path=screenshots / f"{stem}-video-{number}.png")
        checks.append(video_check(f"{name}: video {number} plays", seen))
    return checks


def video_check(name, seen):
    playable = (
        seen["error"] is None
        and seen["readyState"] >= 1
        and (seen["duration"] or 0) > 0
        and seen["end"] is not None
        and seen["end"] > seen["start"]
    )
    if playable:
        detail = f"duration {seen['duration']:.2f} s, currentTime {seen['start']:.2f} -> {seen['end']:.2f} s"
    else:
        detail = (
            f"readyState {seen['readyState']}, duration {seen['duration']}, currentTime {seen['start']} -> "
            f"{seen['end']}, error {seen['error']}; this Chromium's H.264 support: {seen['h264']}"
        )
    return Check(name, playable, detail)


def check_notebook(browser, lab, folder, path, screenshots, timeout):
    """Everything a student does with one notebook, and the checks on what it shows."""
    name = path.as_posix()
    stem = screenshot_stem(path)
    sources = [cell_source(cell) if cell["cell_type"] == "code" else "" for cell in read_cells(folder / path)]
    page = browser.new_page(viewport=VIEWPORT)
    try:
        panel = open_notebook(page, lab, path)
        seconds = run_all_cells(page, panel, timeout)
        save_notebook(page, panel)
        cells = panel.evaluate(CELLS_ON_SCREEN)
        if len(cells) != len(sources):
            raise NotebookFailure(f"the page shows {len(cells)} cells, the notebook has {len(sources)}")
        checks = [check_cells_ran(name, cells, seconds), check_no_errors(name, read_cells(folder / path))]
        checks += check_failures_shown(name, sources, cells)
        if any(ANIMATE_CALL.search(source) for source in sources):
            checks += check_videos(name, page, panel, stem, screenshots)
        full_notebook_screenshot(page, panel, screenshots / f"{stem}.png")
        return checks
    except (NotebookFailure, PlaywrightError) as failure:
        page.screenshot(path=screenshots / f"{stem}-failure.png")
        return [Check(f"{name}: opened and ran in JupyterLab", False, first_line(failure))]
    finally:
        page.close()


def first_line(error):
    return str(error).strip().splitlines()[0]


def run_checks(paths, chromium, screenshots, timeout):
    """Runs each notebook in one JupyterLab and one Chromium; prints and returns the checks."""
    checks = []

    def record(check):
        print(check.line(), flush=True)
        checks.append(check)

    with tempfile.TemporaryDirectory(prefix="videokit-browser-") as temporary:
        folder = pathlib.Path(temporary) / "course"
        copy_notebooks(paths, folder)
        try:
            with running_jupyter_lab(folder, pathlib.Path(temporary)) as lab, sync_playwright() as playwright:
                # Chromium's sandbox cannot start as root (CI containers).
                arguments = ["--no-sandbox"] if os.geteuid() == 0 else []
                browser = playwright.chromium.launch(executable_path=chromium, args=arguments)
                for path in paths:
                    for check in check_notebook(browser, lab, folder, path, screenshots, timeout):
                        record(check)
                browser.close()
        except (NotebookFailure, PlaywrightError) as failure:
            record(Check("JupyterLab and Chromium started", False, first_line(failure)))
    return checks


def main(argv=None):
    arguments = parse_arguments(argv)
    missing = missing_requirement(arguments.chromium)
    if missing:
        print(f"browser_check: {missing}", file=sys.stderr)
        return 2
    paths = [repository_path(argument) for argument in arguments.notebooks]
    arguments.screenshots.mkdir(parents=True, exist_ok=True)
    checks = run_checks(paths, arguments.chromium, arguments.screenshots, arguments.timeout)
    failed = sum(not check.passed for check in checks)
    print(f"screenshots: {arguments.screenshots.resolve()}")
    print(f"browser: {len(checks) - failed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
