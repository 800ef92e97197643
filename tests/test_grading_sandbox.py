"""The grader as a trust boundary: the sandbox, adversarial submissions, the journal, the reports.

The adversarial notebooks of ``tests/fixtures/adversarial/`` (exercise set 01) are graded in one
module-scoped batch with ``videokit grade`` (two at a time, 8 s per cell, 60 s per notebook), then
the honest one is graded again in a second run against the same autograder cache.
"""

import contextlib
import hashlib
import io
import json
import os
import pathlib
import pickle
import sys
import textwrap

import numpy as np

import pytest

pytest.importorskip("otter", reason="the exercises need otter-grader: pip install -e '.[course]'")

from videokit import cli, grading  # noqa: E402
from videokit.grading import calls, masters, plaindata, sandbox, scoring  # noqa: E402

pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]  # runs notebooks in kernels

ROOT = pathlib.Path(__file__).resolve().parents[1]
ADVERSARIAL = ROOT / "tests" / "fixtures" / "adversarial"
UNGRADABLE = ROOT / "tests" / "fixtures" / "submissions" / "ungradable"
MASTER = ROOT / "solutions" / "01_convolution.ipynb"
DAEMON_MARKER = b"videokit-adversary-daemon"
PICKLE_MARKER = pathlib.Path("/tmp/videokit-adversary-pickle-ran")  # forges_answers.ipynb's pickle would make it
needs_sandbox = pytest.mark.skipif(bool(sandbox.sandbox_problem()), reason=sandbox.sandbox_problem() or "-")
NO_SANDBOX = ["--no-sandbox"] if sandbox.sandbox_problem() else []


@pytest.fixture(scope="module")
def autograder_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDEOKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield masters.cache_dir()


def trusted_files():
    """SHA-256 of every file the grader trusts in the checkout: the package and the masters."""
    files = sorted((ROOT / "videokit" / "grading").glob("*.py")) + sorted((ROOT / "solutions").glob("*.ipynb"))
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def cached_files(cache):
    """SHA-256 of every file of the grader's cache: the autograders and the recorded test inputs (``plans/``)."""
    return {str(path.relative_to(cache.parent)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(cache.parent.rglob("*")) if path.is_file()}


def run_grade(arguments):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        exit_code = cli.main(["grade", *map(str, arguments)])
    return exit_code, printed.getvalue()


def daemons_alive():
    alive = []
    for entry in pathlib.Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and DAEMON_MARKER in (entry / "cmdline").read_bytes():
                alive.append(entry.name)
    return alive


@pytest.fixture(scope="module")
def adversarial_runs(autograder_cache, tmp_path_factory):
    """The adversarial folder graded, then the honest notebook alone in a second run."""
    before = trusted_files()
    PICKLE_MARKER.unlink(missing_ok=True)
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    options = ["--timeout", "8", "--wall-limit", "60", "--jobs", "2"]
    exit_code, table = run_grade([ADVERSARIAL, "--output", first, *options])
    cache_after_first = cached_files(autograder_cache)
    next_code, _ = run_grade([ADVERSARIAL / "zz_honest_full.ipynb", "--output", second, *options])
    report = json.loads((first / "grades.json").read_text())
    return {
        "exit_code": exit_code, "table": table, "next_code": next_code,
        "results": {str(pathlib.Path(entry["path"]).relative_to(ADVERSARIAL)): entry for entry in report["notebooks"]},
        "report": report, "journal": (first / "grades.jsonl").read_text(),
        "json_text": (first / "grades.json").read_text(),
        "next": json.loads((second / "grades.json").read_text())["notebooks"],
        "checkout_unchanged": before == trusted_files(),
        "cache_unchanged": cache_after_first == cached_files(autograder_cache),
        "daemons": daemons_alive(),
        "pickle_ran": PICKLE_MARKER.exists(),
    }


# --------------------------------------------------------------------------- the sandbox itself

PROBE = textwrap.dedent('''
    import json, os, socket, sys
    import videokit.grading.masters as masters

    def writable(path):
        try:
            with open(path, "a"):
                return True
        except OSError:
            return False

    def connects():
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=2)
            return True
        except OSError:
            return False

    def allocates():
        try:
            bytearray(64 * 2**30)
            return True
        except MemoryError:
            return False

    def writes_big_file():
        try:
            with open("/tmp/big", "wb") as file:
                file.write(b"x" * (40 * 2**20))
            return True
        except OSError:
            return False

    facts = {
        "solutions": os.path.exists(masters.REPOSITORY_ROOT / "solutions"),
        "tests": os.path.exists(masters.REPOSITORY_ROOT / "tests"),
        "cache": os.path.exists(sys.argv[2]),
        "package_writable": writable(masters.__file__),
        "workspace_writable": writable("/grading/input.txt"),
        "workspace": sorted(os.listdir("/grading")),
        "tmp_writable": writable("/tmp/mine"),
        "grader_visible": os.path.exists(f"/proc/{sys.argv[3]}"),
        "network": connects(),
        "allocates_64_gib": allocates(),
        "writes_40_mib": writes_big_file(),
        "uid": os.getuid(),
    }
    with os.fdopen(int(sys.argv[1]), "w") as pipe:
        json.dump(facts, pipe)
''')


@needs_sandbox
def test_sandbox_hides_the_checkout_and_is_read_only_and_limited(tmp_path, autograder_cache):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "input.txt").write_text("input")
    autograder_cache.mkdir(parents=True, exist_ok=True)
    limits = sandbox.Limits(file_bytes=32 * 2**20, memory_bytes=8 * 2**30)
    status, timed_out, report = sandbox.run(
        [sys.executable, "-c", PROBE, "{report}", str(autograder_cache), str(os.getpid())], workspace,
        wall_seconds=120, limits=limits, log_path=tmp_path / "log",
    )
    assert status == 0 and not timed_out, (tmp_path / "log").read_text()[-2000:]
    facts = json.loads(report)
    assert not facts["solutions"] and not facts["tests"] and not facts["cache"], facts
    assert not facts["package_writable"] and not facts["workspace_writable"] and facts["tmp_writable"], facts
    assert facts["workspace"] == ["input.txt"] and not facts["grader_visible"] and not facts["network"], facts
    assert not facts["allocates_64_gib"] and not facts["writes_40_mib"], facts
    assert os.geteuid() != 0 or facts["uid"] >= sandbox.FIRST_UID


@needs_sandbox
def test_wall_limit_kills_every_process_of_the_sandbox(tmp_path):
    daemon = (f"import signal, time  # {DAEMON_MARKER.decode()}\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)")
    script = ("import os, subprocess, sys, time\n"
              "if os.fork() == 0:\n    os.setsid()\n"
              f"    subprocess.Popen([sys.executable, '-c', {daemon!r}], start_new_session=True)\n    os._exit(0)\n"
              "time.sleep(600)")
    status, timed_out, _ = sandbox.run([sys.executable, "-c", script], tmp_path, wall_seconds=5)
    assert timed_out
    assert not daemons_alive(), "a process of the sandbox outlived its wall limit"


# --------------------------------------------------------------------------- adversarial submissions

EXPECTED_SCORES = {  # notebook: score (of 14); each answers only the questions it scores, honestly
    "background_process.ipynb": 0,
    "cheats_in_kernel.ipynb": 0,  # always-equal answers, functions returning the caller's `expected`
    "hunts_expected_values.ipynb": 5,  # functions that search frames, objects and files for expected values
    "odd_answers.ipynb": 5,  # NaN, 1 GB, object-dtype, wrong-dtype answers
    "forges_answers.ipynb": 0,  # its own answers file with a crafted pickle: the whole file is refused
    "reads_masters.ipynb": 0,
    "writes_everywhere.ipynb": 5,
    "exhausts_resources.ipynb": 5,
    "malformed/01_metadata_null.ipynb": 5,
    "malformed/01_otter_is_a_list.ipynb": 5,
    "malformed/01_kernelspec_is_a_string.ipynb": 5,
    "zz_honest_full.ipynb": 14,
}
EXPECTED_ERRORS = {
    "kills_grader.ipynb": "the grading worker failed",
    "swallows_timeouts.ipynb": "time limit",
    "malformed/otter_is_a_string.ipynb": "unknown exercise set",
    "malformed/assignment_name_is_a_list.ipynb": "unknown exercise set",
    "malformed/assignment_name_is_a_number.ipynb": "unknown exercise set",
    "malformed/cells_not_a_list.ipynb": "not a Jupyter notebook",
    "malformed/source_is_a_number.ipynb": "not a Jupyter notebook",
    "malformed/empty_object.ipynb": "not a Jupyter notebook",
}


@needs_sandbox
@pytest.mark.parametrize("notebook", sorted(EXPECTED_SCORES))
def test_adversarial_submission_scores_what_it_answered(adversarial_runs, notebook):
    entry = adversarial_runs["results"][notebook]
    assert entry["status"] == "graded", entry["error"]
    assert entry["score"] == EXPECTED_SCORES[notebook] and entry["max_score"] == 14, adversarial_runs["table"]


@needs_sandbox
@pytest.mark.parametrize("notebook", sorted(EXPECTED_ERRORS))
def test_adversarial_submission_gets_an_error_row(adversarial_runs, notebook):
    entry = adversarial_runs["results"][notebook]
    assert entry["status"] == "error" and EXPECTED_ERRORS[notebook] in entry["error"], entry
    assert entry["score"] == 0


@needs_sandbox
def test_the_batch_completes_and_touches_nothing_trusted(adversarial_runs):
    results = adversarial_runs["results"]
    assert sorted(results) == sorted([*EXPECTED_SCORES, *EXPECTED_ERRORS])
    assert adversarial_runs["exit_code"] == 1 and adversarial_runs["next_code"] == 0
    assert len(adversarial_runs["journal"].splitlines()) == len(results), "one journal line per notebook"
    assert adversarial_runs["checkout_unchanged"], "a submission changed the package or the masters"
    assert adversarial_runs["cache_unchanged"], "a submission changed the autograder cache"
    assert not adversarial_runs["daemons"], "a submission's background process outlived grading"
    assert not adversarial_runs["pickle_ran"], "the grader unpickled a submission's data"
    (honest,) = adversarial_runs["next"]
    assert honest["score"] == honest["max_score"] == 14, "the next run's honest notebook lost points"
    assert results["swallows_timeouts.ipynb"]["seconds"] < 60 + 30
    assert adversarial_runs["report"]["sandboxed"] is True


@needs_sandbox
def test_reports_hold_no_hidden_test_source_or_expected_values(adversarial_runs):
    plan = masters.question_plan(MASTER)
    hidden = [case["name"] for cases in plan.values() for case in cases if case["hidden"]]
    for text in (adversarial_runs["json_text"], adversarial_runs["journal"]):
        assert "hidden test test_q2_hidden_multichannel failed" in text
        for secret in ("2432", "1843200", "assert_allclose", "default_rng(2024)", "expected ="):
            assert secret not in text, secret
    assert hidden and all(name.startswith("test_q") for name in hidden)


@needs_sandbox
def test_answers_that_cheat_inside_the_kernel_score_nothing(adversarial_runs):
    """Phase 2 runs the tests outside the kernel, on plain data: in-kernel tricks have nothing to act on."""
    entry = adversarial_runs["results"]["cheats_in_kernel.ipynb"]
    assert entry["status"] == "graded" and entry["score"] == 0, entry
    forged = adversarial_runs["results"]["forges_answers.ipynb"]
    assert forged["status"] == "graded" and forged["score"] == 0
    assert all("could not be read" in test["message"] for question in forged["questions"] for test in question["tests"]
               if not test["hidden"])


# --------------------------------------------------------------------------- journal, refusal, scoring


def test_resume_keeps_journal_rows_and_grades_the_rest(tmp_path, autograder_cache):
    output = tmp_path / "grades"
    assert run_grade([UNGRADABLE, "--output", output, *NO_SANDBOX])[0] == 1
    lines = (output / "grades.jsonl").read_text().splitlines()
    assert len(lines) == 2
    kept = json.loads(lines[0])
    kept["error"] = "graded before the interruption"
    (output / "grades.jsonl").write_text(json.dumps(kept) + "\n" + '{"path": "torn')  # killed mid-line
    exit_code, table = run_grade([UNGRADABLE, "--output", output, "--resume", *NO_SANDBOX])
    assert exit_code == 1 and "graded before the interruption" in table
    report = json.loads((output / "grades.json").read_text())["notebooks"]
    assert len(report) == 2 and sum("graded before" in entry["error"] for entry in report) == 1


def test_grading_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "sandbox_problem", lambda: "bubblewrap is not installed")
    assert cli.main(["grade", str(UNGRADABLE), "--output", str(tmp_path)]) == 2
    assert "--no-sandbox" in capsys.readouterr().err
    assert run_grade([UNGRADABLE, "--output", tmp_path, "--no-sandbox"])[0] == 1
    assert json.loads((tmp_path / "grades.json").read_text())["sandboxed"] is False


def test_no_sandbox_still_grades(tmp_path, autograder_cache):
    exit_code, _ = run_grade([ADVERSARIAL / "zz_honest_full.ipynb", "--output", tmp_path, "--no-sandbox"])
    (entry,) = json.loads((tmp_path / "grades.json").read_text())["notebooks"]
    assert exit_code == 0 and entry["score"] == 14 and entry["sandboxed"] is False


def test_a_changed_autograder_is_rebuilt_and_a_changed_copy_refused(tmp_path, autograder_cache):
    import zipfile

    built = masters.autograder_zip(MASTER)
    built.write_bytes(b"changed after it was built")
    assert zipfile.is_zipfile(masters.autograder_zip(MASTER)), "rebuilt"
    assert masters.verified_copy(built, tmp_path).is_file()
    built.with_suffix(".sha256").write_text("0" * 64)
    with pytest.raises(ValueError, match="SHA-256"):
        masters.verified_copy(built, tmp_path)
    built.unlink()


@pytest.mark.parametrize("metadata", [None, "x", [1], {"otter": None}, {"otter": "01_convolution"}, {"otter": [1]},
                                      {"otter": {"assignment_name": ["01_convolution"]}},
                                      {"otter": {"assignment_name": {"a": 1}}}])
def test_malformed_metadata_is_an_error_not_a_crash(metadata):
    with pytest.raises(grading.GradingError, match="unknown exercise set"):
        grading.identify_exercise({"metadata": metadata}, "submission.ipynb", {"01_convolution": MASTER})
    assert grading.identify_exercise({"metadata": metadata}, "01_mine.ipynb", {"01_convolution": MASTER}) == \
        "01_convolution"


def test_scores_come_from_the_master_not_from_the_report():
    plan = masters.question_plan(MASTER)
    forged = {"questions": [
        {"name": "q1", "tests": [{"passed": True, "message": "ok"}] * 3},
        {"name": "q2", "tests": [{"passed": "yes"}, {"passed": 1}]},
        {"name": "q3", "tests": [{"passed": True}] * 9},  # more tests than the master has
        {"name": "q9", "score": 100, "max_score": 100, "tests": [{"passed": True}]},
    ], "cell_errors": [{"cell": "x"}, "junk", {"cell": 3, "error": 7}]}
    result = scoring.score_report(scoring.SubmissionResult(path="forged.ipynb"), forged, plan)
    scores = {question.name: (question.score, question.max_score) for question in result.questions}
    assert scores == {"q1": (5.0, 5.0), "q2": (0.0, 3.0), "q3": (0.0, 3.0), "q4": (0.0, 3.0)}
    assert result.cell_errors == [{"cell": 3, "error": ""}]
    hidden = [test["message"] for question in result.questions for test in question.tests if test["hidden"]]
    assert "hidden test test_q2_hidden_multichannel failed" in hidden


@pytest.mark.skipif(not sys.platform.startswith("linux") or not sandbox.sandbox_problem(),
                    reason="bubblewrap works here, or this is not Linux")
def test_linux_machines_have_bubblewrap():
    pytest.fail(f"the grader's sandbox tests need bubblewrap (apt-get install bubblewrap): {sandbox.sandbox_problem()}")


# --------------------------------------------------------------------------- plain data across the wall


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def json_entry(document):
    return np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)


def test_plain_data_round_trip_keeps_types():
    value = {"tuple": (1, 2.5, "x", None, True), "array": np.arange(6, dtype="int16").reshape(2, 3),
             "scalar": np.float32(1.5), "nan": float("nan"), 3: [np.array(["a", "b"])], "__odd": 1}
    decoded = plaindata.decode(plaindata.encode(value))
    assert decoded["tuple"] == (1, 2.5, "x", None, True) and type(decoded["tuple"]) is tuple
    assert decoded["array"].dtype == np.int16 and decoded["array"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(decoded["scalar"]) is np.float32 and np.isnan(decoded["nan"])
    assert decoded[3][0].tolist() == ["a", "b"] and decoded["__odd"] == 1


@pytest.mark.parametrize("value", [object(), np.array([None], dtype=object), lambda: 1, {1, 2},
                                   np.zeros(plaindata.MAX_ARRAY_BYTES // 8 + 1)])
def test_encode_refuses_what_is_not_plain_data(value):
    with pytest.raises(TypeError):
        plaindata.encode(value)


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {PICKLE_MARKER}",))


@pytest.mark.parametrize("forged", [
    lambda: npz_bytes(__json__=json_entry({"__array__": "a0"}), a0=np.array([_Payload()], dtype=object)),
    lambda: npz_bytes(__json__=json_entry({"__rng__": {"bit_generator": "PCG64"}})),
    lambda: npz_bytes(__json__=json_entry({"__keras_model__": {}, "weights": []})),
    lambda: npz_bytes(__json__=json_entry({"__array__": "missing"})),
    lambda: npz_bytes(__json__=json_entry({"__array__": "a0"}), a0=np.zeros(2, dtype="datetime64[s]")),
    lambda: npz_bytes(__json__=np.frombuffer(b"{not json", dtype=np.uint8)),
    lambda: b"PK\x03\x04 not a zip",
    lambda: pickle.dumps(_Payload()),
])
def test_decode_refuses_pickles_tags_and_junk(forged):
    PICKLE_MARKER.unlink(missing_ok=True)
    with pytest.raises(plaindata.InvalidData):
        plaindata.decode(forged())
    assert not PICKLE_MARKER.exists()


def test_decode_refuses_an_archive_that_unpacks_too_big():
    buffer = io.BytesIO()
    np.savez_compressed(buffer, __json__=json_entry({"__array__": "a0"}), a0=np.zeros(2**24))  # 128 MiB
    assert len(buffer.getvalue()) < 2**20
    with pytest.raises(plaindata.InvalidData, match="unpacks to more"):
        plaindata.decode(buffer.getvalue(), limit=2**26)


def test_replay_gives_each_call_its_own_output_and_refuses_other_calls():
    replay = calls.Replay("f", [np.ones(2), plaindata.Error("ZeroDivisionError: x")],
                          [calls.signature([[np.zeros(2)], {}]), calls.signature([[3], {"k": "a"}])])
    assert replay(np.full(2, 7.0)).tolist() == [1.0, 1.0]
    with pytest.raises(AssertionError, match="differs"):
        replay(4, k="a")
    with pytest.raises(AssertionError, match="no answer"):
        replay(3, k="a")


def test_checker_fails_tests_on_unreadable_answers_without_stopping(tmp_path, autograder_cache):
    """Phase 2 on a forged answers file: every test fails, with a message, and the checker returns a report."""
    from videokit.grading import checker

    given = {"given": {}, "tests": [{"name": test["name"], "question": test["question"], "failure": "",
                                     "kinds": {name: "value" for name in test["params"]},
                                     "signatures": {name: [] for name in test["params"]}}
                                    for test in masters.test_cells(MASTER)]}
    (tmp_path / "given.npz").write_bytes(plaindata.encode(given))
    (tmp_path / "answers.npz").write_bytes(npz_bytes(__json__=json_entry({"__array__": "a0"}),
                                                     a0=np.array([_Payload()], dtype=object)))
    report = checker.check_submission(MASTER, tmp_path / "given.npz", tmp_path / "answers.npz", 10)
    tests = [test for question in report["questions"] for test in question["tests"]]
    assert len(tests) == 9 and not any(test["passed"] for test in tests)
    assert all("could not be read" in test["message"] for test in tests)
