"""The training process as the Slicer module drives it: command, JSON progress, errors, Cancel, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from AttriVAELib import load_model
from AttriVAELib.errors import InvalidConfigError
from AttriVAELib.progress import ProgressEvent
from AttriVAELib.slicer.process import STOP_WITH_PARENT, TrainingProcess, parse_progress, training_command


@pytest.mark.parametrize("line, expected", [
    ('{"event": "epoch", "done": 3, "total": 10, "losses": {"train_total": 1.5}}',
     ProgressEvent("epoch", done=3, total=10, losses={"train_total": 1.5})),
    ('  {"event": "done", "model": "m.safetensors"}\n', ProgressEvent("done", model="m.safetensors")),
    ("epoch 3/10: train 1.5", None),
    ("", None),
    ('{"epoch": 3}', None),  # not an event
    ('{"event": 3}', None),
    ('{"event": "lunch"}', None),  # no such kind
    ('{"event": "epoch", "done": "3"}', None),  # a field of the wrong type
    ('{"event": "epoch", "losses": {"train_total": "high"}}', None),
    ('{"event": "epoch", "weather": "fine"}', None),  # no such field
    ('{"event": "epoch", ', None),  # cut off
    ('["event"]', None),
])
def test_parse_progress(line: str, expected: ProgressEvent | None) -> None:
    assert parse_progress(line) == expected


@pytest.mark.parametrize("event", [
    ProgressEvent("note", text="starting"), ProgressEvent("compile"),
    ProgressEvent("batch", done=2, total=9, epoch=1, losses={"total": 3.5, "ar": 0.25}),
    ProgressEvent("epoch", done=4, total=80, losses={"train_total": 2.0, "val_total": 2.5}, seconds=3.25,
                  best_epoch=4),
    ProgressEvent("done", model="run/model.safetensors"), ProgressEvent("crossval", done=1, total=36, text="vae"),
])
def test_every_event_survives_its_json_line(event: ProgressEvent) -> None:
    line = json.dumps(event.to_json())
    assert parse_progress(line) == event and json.loads(line)["event"] == event.kind


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not one of"):
        ProgressEvent("lunch")


def tiny(epochs: int) -> dict[str, Any]:
    """Training settings of the panel's process at the smallest cube, on the CPU."""
    return {"epochs": epochs, "input_size": 16, "device": "cpu"}


def test_training_command_names_every_choice() -> None:
    settings = {"epochs": 3, "input_size": 16, "device": "cpu", "augment_probability": 0.5, "seed": None}
    command = training_command("data", "run", data_format="emidec", preset="beta-vae", attributes="a, b",
                               settings=settings, python="/opt/PythonSlicer")
    assert command[:4] == ["/opt/PythonSlicer", "-m", "AttriVAELib", "train"]
    text = " ".join(command)
    for flag in ("--data data", "--out run", "--format emidec", "--preset beta-vae", "--attributes a, b",
                 "--epochs 3", "--cube-size 16", "--device cpu", "--augment 0.5", "--progress json"):
        assert flag in text
    assert "--seed" not in text and "--augment" not in training_command("d", "o")  # None: the preset's value
    assert "--attributes" not in training_command("d", "o", attributes=" ")
    assert training_command("d", "o")[0] == sys.executable
    with pytest.raises(InvalidConfigError, match="size is not a training option"):
        training_command("d", "o", settings={"size": 16})


def test_the_training_command_parses_as_the_cli_reads_it() -> None:
    """Every training option the panel can set reaches the config the CLI builds from the command."""
    from AttriVAELib.apps.cli import _flag_overrides, _parser

    settings = {"epochs": 3, "input_size": 16, "device": "cpu", "augment_probability": 0.5, "seed": 7,
                "learning_rate": 0.002, "compile": "off"}
    args = _parser().parse_args(training_command("data", "run", settings=settings)[3:])
    overrides = _flag_overrides(args)
    assert {**overrides["model"], **overrides["train"]} == settings


def _live_members(group: int) -> list[int]:
    """Processes of a process group that are alive (not zombies waiting for a reaper), from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while listing
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _wait_for(process: TrainingProcess, kind: str, timeout_s: float = 120.0) -> list[ProgressEvent]:
    seen: list[ProgressEvent] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen += process.events()
        if any(event.kind == kind for event in seen) or not process.running:
            return seen + process.events()
        time.sleep(0.05)
    raise AssertionError(f"no {kind!r} event within {timeout_s} s; stderr: {process.stderr_lines[-5:]}")


@pytest.mark.slow
def test_training_process_end_to_end(tiny_cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = TrainingProcess(training_command(tiny_cohort, out, settings=tiny(epochs=2)),
                              env={**os.environ, "PYTHONPATH": ""})  # the runner itself points at this library
    assert process.wait(300) == 0, process.stderr_lines[-5:]
    events = process.events()
    kinds = [event.kind for event in events]
    assert kinds.count("preprocess") == 24 and kinds.count("epoch") == 2 and kinds[-1] == "done"
    epochs = [event for event in events if event.kind == "epoch"]
    assert [e.done for e in epochs] == [1, 2] and all(e.losses["train_total"] > 0 for e in epochs)
    model = load_model(events[-1].model)
    assert model.card.training.epochs == 2 and Path(events[-1].model).parent == out


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads process groups from /proc")


@needs_proc
@pytest.mark.slow
def test_cancel_interrupts_with_a_resumable_checkpoint(tiny_cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = TrainingProcess(training_command(tiny_cohort, out, settings=tiny(epochs=500)))
    events = _wait_for(process, "epoch")
    assert process.running
    started = time.monotonic()
    process.cancel(grace_s=30)
    assert time.monotonic() - started < 0.5 and process.cancel_requested  # never waits on the caller's thread
    code = process.wait(60)
    assert code == 130, process.stderr_lines[-5:]
    assert not process.running and (out / "checkpoint.safetensors").is_file()
    assert any("resume" in line for line in process.stderr_lines)
    assert events[-1].kind in ("epoch", "batch")
    assert _live_members(process.process.pid) == []


@needs_proc
@pytest.mark.slow
def test_cancel_stops_resumably_a_training_that_inherited_ignored_interrupts(tiny_cohort: Path,
                                                                           tmp_path: Path) -> None:
    # A shell script's background job (`attrivae train ... &`) starts with SIGINT ignored, and so would its
    # child; the training command turns interrupts back into a resumable stop.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the child through exec
    try:
        process = TrainingProcess(training_command(tiny_cohort, tmp_path / "run",
                                                   settings=tiny(epochs=500)))
    finally:
        signal.signal(signal.SIGINT, previous)
    _wait_for(process, "epoch")
    process.cancel(grace_s=30)
    assert process.wait(60) == 130, process.stderr_lines[-5:]
    assert any("resume" in line for line in process.stderr_lines)


_PARENT = """
import sys, time
from AttriVAELib.slicer.process import TrainingProcess, training_command
process = TrainingProcess(training_command(sys.argv[1], sys.argv[2],
                                           settings={"epochs": 500, "input_size": 16, "device": "cpu"}))
deadline = time.monotonic() + 120
while not any(event.kind == "epoch" for event in process.events()) and time.monotonic() < deadline:
    time.sleep(0.05)
print(process.process.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@needs_proc
@pytest.mark.slow
def test_the_training_child_stops_resumably_when_its_parent_is_killed(tiny_cohort: Path, tmp_path: Path) -> None:
    """Slicer killed or crashed mid-training: the child, in its own session, must not train on unseen."""
    out = tmp_path / "run"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(tiny_cohort), str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
    finally:
        parent.kill()  # SIGKILL: no cleanup of its own runs
        parent.wait()
    deadline = time.monotonic() + 60
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)
    assert (out / "checkpoint.safetensors").is_file()  # resumable from its last finished epoch


def _train_until_first_epoch(tiny_cohort: Path, out: Path, stdout: Any, environment: dict[str, str],
                             stderr: Path) -> tuple[subprocess.Popen, Any]:
    """``attrivae train --progress json`` for 500 epochs, stdin a pipe, stderr into a file; returns once its
    first epoch is checkpointed (the process and its open stderr file)."""
    errors = open(stderr, "w")
    child = subprocess.Popen(training_command(tiny_cohort, out, settings=tiny(epochs=500)),
                             stdin=subprocess.PIPE, stdout=stdout, stderr=errors, env=environment)
    deadline = time.monotonic() + 120
    while not (out / "log.csv").is_file() and time.monotonic() < deadline:  # written after each epoch
        time.sleep(0.05)
    return child, errors


@pytest.mark.slow
def test_a_closed_stdin_stops_training_resumably_only_when_told_it_means_the_parent_ended(
        tiny_cohort: Path, tmp_path: Path) -> None:
    for stop_with_parent in ("1", ""):
        out, stderr = tmp_path / f"run{stop_with_parent}", tmp_path / f"err{stop_with_parent}.txt"
        environment = {**os.environ, STOP_WITH_PARENT: stop_with_parent}
        child, errors = _train_until_first_epoch(tiny_cohort, out, subprocess.DEVNULL, environment, stderr)
        child.stdin.close()
        try:
            if stop_with_parent:
                assert child.wait(60) == 130 and "resume" in stderr.read_text()
            else:  # a program that starts the command without input: training goes on
                with pytest.raises(subprocess.TimeoutExpired):
                    child.wait(3)
        finally:
            child.kill()
            child.wait()
            errors.close()


@pytest.mark.slow
def test_training_stops_resumably_when_nobody_reads_its_progress_any_more(tiny_cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    child, errors = _train_until_first_epoch(tiny_cohort, out, subprocess.PIPE, dict(os.environ), tmp_path / "e")
    child.stdout.close()  # the reader ended; stdin stays open: only the broken pipe tells
    try:
        assert child.wait(60) == 130  # a resumable stop, not a BrokenPipeError traceback
    finally:
        child.kill()
        child.wait()
        errors.close()
    assert (out / "checkpoint.safetensors").is_file()


@pytest.mark.slow
@needs_proc
def test_cancel_kills_a_process_that_ignores_the_request(tmp_path: Path) -> None:
    stubborn = ("import signal, subprocess, sys, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
                "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)']); "
                "print('{\"event\": \"note\", \"text\": \"started\"}', flush=True); time.sleep(60)")
    process = TrainingProcess([sys.executable, "-c", stubborn])
    _wait_for(process, "note", 30)
    started = time.monotonic()
    process.cancel(grace_s=0.5)
    assert process.running  # still within the grace period
    while process.running and time.monotonic() - started < 10:  # a GUI timer polling
        time.sleep(0.05)
    assert process.wait(5) == -9 and time.monotonic() - started < 10
    time.sleep(0.2)
    assert _live_members(process.process.pid) == []  # the grandchild went with it


@pytest.mark.slow
def test_failed_training_reports_its_one_line_error(tmp_path: Path) -> None:
    process = TrainingProcess(training_command(tmp_path / "missing", tmp_path / "run", settings={"epochs": 1}))
    assert process.wait(120) == 2
    assert "does not exist" in (process.error() or "") or "no dataset" in (process.error() or ""), \
        process.stderr_lines
    assert not (tmp_path / "run").exists()


def test_windows_child_has_no_console_window_and_a_failed_kill_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from AttriVAELib.slicer import process as process_module

    launched, killed = [], []

    class FakePopen:
        pid = 4242
        stdin = stdout = stderr = None

        def __init__(self, command: list[str], **options: object) -> None:
            launched.append(options)
            self.stdin = self._Pipe()
            self.stdout, self.stderr = iter(()), iter(())

        class _Pipe:
            def write(self, text: str) -> None:
                raise BrokenPipeError("the child closed its stdin")

            def close(self) -> None:
                pass

        def poll(self) -> None:
            return None

    def failing_kill(command: list[str], **options: object) -> None:
        killed.append((command, options))
        raise OSError("taskkill is not available")

    monkeypatch.setattr(process_module, "_WINDOWS", True)
    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    monkeypatch.setattr(subprocess, "run", failing_kill)
    process = TrainingProcess(["python", "-m", "AttriVAELib", "train"])
    options = launched[0]
    assert options["creationflags"] & 0x08000000  # CREATE_NO_WINDOW: no console window pops up
    assert "start_new_session" not in options and options["stdin"] == subprocess.PIPE
    process.cancel(grace_s=0.0)  # the request cannot be written: not an error
    assert process.running is True  # the kill failed: reported as still running, no exception
    assert killed and killed[0][0][:3] == ["taskkill", "/T", "/F"] and killed[0][1]["creationflags"] & 0x08000000
