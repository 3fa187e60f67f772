"""Training in a separate process, as the Slicer module runs it: the command line, its JSON progress lines,
and a runner that can be polled without blocking and cancelled.

The child is ``python -m AttriVAELib train ... --progress json``: one JSON object per line on stdout (the
:class:`~AttriVAELib.progress.ProgressEvent` of :func:`AttriVAELib.training.loop.train`: ``note``, ``preprocess``,
``compile``, ``batch``, ``epoch``, ``done``), errors as one ``attrivae: error: ...`` line on stderr,
results as files in the run folder. The parent asks it to stop by writing :data:`CANCEL_REQUEST` to its
stdin (the child then stops as on Ctrl-C, with a resumable checkpoint): one way on every OS, since Windows
cannot deliver Ctrl-C to a process without a console window. The child never outlives its parent: a parent
that ends in any way (Slicer closed, crashed or killed) closes the child's stdin, and a child started with
:data:`STOP_WITH_PARENT` set stops the same resumable way when it reads that end of input.
"""

from __future__ import annotations

__all__ = ["CANCEL_REQUEST", "STOP_WITH_PARENT", "TrainingMonitor", "TrainingProcess", "TrainingStatus",
           "parse_progress", "training_command"]

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..config import TRAINING_OPTIONS
from ..errors import InvalidConfigError
from ..progress import ProgressEvent

_WINDOWS = sys.platform == "win32"
_CREATE_NO_WINDOW = 0x08000000
"""Windows process creation flag: run a console program without opening a console window."""
CANCEL_REQUEST = "cancel"
"""The line a training child reads on stdin as "stop now, resumably" (``attrivae train --progress json``)."""
STOP_WITH_PARENT = "ATTRIVAE_STOP_WITH_PARENT"
"""Environment variable (``1``) telling a training child that the end of its stdin means its parent ended."""


def training_command(data: Path | str, out: Path | str, *, data_format: str = "auto", preset: str = "paper",
                     attributes: str = "", settings: Mapping[str, Any] | None = None,
                     python: str | None = None) -> list[str]:
    """The command line of a training process that reports progress as JSON lines.

    Args:
        attributes: comma-separated attribute names, as the user wrote them (none: the data's defaults).
        settings: {config field of :data:`~AttriVAELib.config.TRAINING_OPTIONS`: value}, e.g.
            ``{"epochs": 300, "input_size": 32}``; a field left out or None keeps the preset's value.
        python: the interpreter (default this one).

    Raises:
        InvalidConfigError: a setting that is not a training option.
    """
    flags = {option.field: option.flag for option in TRAINING_OPTIONS}
    unknown = sorted(set(settings or {}) - set(flags))
    if unknown:
        raise InvalidConfigError(f"{', '.join(unknown)} is not a training option; choose from {', '.join(flags)}")
    command = [python or sys.executable, "-m", "AttriVAELib", "train", "--data", str(data), "--out", str(out),
               "--format", data_format, "--preset", preset, "--progress", "json"]
    if attributes.strip():
        command += ["--attributes", attributes]
    for field, value in (settings or {}).items():
        if value is not None:
            command += [flags[field], str(value)]
    return command


def parse_progress(line: str) -> ProgressEvent | None:
    """One progress event from one output line, or None for any other line (logs, warnings, blank)."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        return ProgressEvent.from_json(json.loads(text))
    except json.JSONDecodeError:
        return None


class TrainingProcess:
    """A running training process: :meth:`events` drains its progress without blocking (call it from a
    GUI timer), :meth:`cancel` asks it to stop without blocking either.

    Cancel writes :data:`CANCEL_REQUEST` to the child's stdin (training saves a resumable checkpoint of the
    last finished epoch and exits with 130), and kills the whole process tree if it has not ended
    ``grace_s`` seconds later (checked whenever :attr:`running` or :meth:`wait` is called)."""

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None) -> None:
        environment = dict(os.environ if env is None else env)
        library_parent = str(Path(__file__).resolve().parent.parent)  # the child imports this same AttriVAELib
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [library_parent, environment.get("PYTHONPATH")]))
        environment["PYTHONUNBUFFERED"] = "1"
        environment[STOP_WITH_PARENT] = "1"  # this object holds the child's stdin open while it lives
        detached = {"creationflags": _CREATE_NO_WINDOW} if _WINDOWS else {"start_new_session": True}
        self.process = subprocess.Popen(list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                        env=environment, **detached)
        self._events: queue.Queue[ProgressEvent] = queue.Queue()
        self.stderr_lines: list[str] = []
        self.cancel_requested = False
        self._kill_at: float | None = None
        self._readers = [threading.Thread(target=self._read, args=(stream, sink), daemon=True)
                         for stream, sink in ((self.process.stdout, self._stdout), (self.process.stderr,
                                                                                    self.stderr_lines.append))]
        for reader in self._readers:
            reader.start()

    def _stdout(self, line: str) -> None:
        event = parse_progress(line)
        if event is not None:
            self._events.put(event)

    @staticmethod
    def _read(stream: IO[str], sink: Any) -> None:
        for line in stream:
            sink(line.rstrip("\n"))

    def events(self) -> list[ProgressEvent]:
        """Progress events received since the last call (never blocks)."""
        received = []
        while True:
            try:
                received.append(self._events.get_nowait())
            except queue.Empty:
                return received

    @property
    def running(self) -> bool:
        self._kill_if_overdue()
        return self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def error(self) -> str | None:
        """The child's one-line error message, when it reported one."""
        errors = [line for line in self.stderr_lines if line.startswith("attrivae: error:")]
        return errors[-1].removeprefix("attrivae: error:").strip() if errors else None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end (and for its output to be read); return the exit status. After a cancel, kills
        the process tree when its grace period ends within ``timeout``."""
        if self._kill_at is not None and self.process.poll() is None:
            grace = max(0.0, self._kill_at - time.monotonic())
            if timeout is None or grace < timeout:
                try:
                    self.process.wait(grace)
                except subprocess.TimeoutExpired:
                    self._kill_if_overdue()
        code = self.process.wait(timeout)
        for reader, stream in zip(self._readers, (self.process.stdout, self.process.stderr)):
            reader.join(timeout)
            if not reader.is_alive():
                stream.close()
        return code

    def cancel(self, grace_s: float = 10.0) -> None:
        """Ask the child to stop (returns at once); it is killed if still running ``grace_s`` seconds later."""
        if self.process.poll() is not None or self.cancel_requested:
            return
        self.cancel_requested = True
        self._kill_at = time.monotonic() + grace_s
        try:
            self.process.stdin.write(CANCEL_REQUEST + "\n")
            self.process.stdin.close()
        except OSError:  # it ended, or closed its stdin: the kill after the grace period still applies
            pass

    def _kill_if_overdue(self) -> None:
        if self._kill_at is None or time.monotonic() < self._kill_at or self.process.poll() is not None:
            return
        self._kill_at = None
        with contextlib.suppress(OSError):  # it may end between the check and the kill
            if _WINDOWS:
                subprocess.run(["taskkill", "/T", "/F", "/PID", str(self.process.pid)], capture_output=True,
                               check=False, creationflags=_CREATE_NO_WINDOW)
            else:
                os.killpg(self.process.pid, signal.SIGKILL)  # the child leads its own session: the whole tree


@dataclass
class TrainingStatus:
    """What the panel shows about a training, after one :meth:`TrainingMonitor.poll`."""

    fraction: float  # of the requested epochs done, in [0, 1]
    message: str  # one status line
    new_epochs: int  # epochs finished since the previous poll
    finished: bool  # the process has ended
    cancelled: bool = False  # ended after the user's cancel (a resumable checkpoint is in the run folder)
    model: str | None = None  # the trained model bundle, once done
    error: str | None = None  # why it failed (not set for a cancel)


class TrainingMonitor:
    """Turns a :class:`TrainingProcess`'s events into :class:`TrainingStatus` lines; keeps the epoch rows
    (for a loss chart). Poll it from a GUI timer: it never blocks."""

    def __init__(self, process: TrainingProcess, run_folder: Path | str) -> None:
        self.process = process
        self.run_folder = Path(run_folder)
        self.epochs: list[dict[str, float]] = []  # one row per finished epoch: ``epoch``, ``train_*``, ``val_*``
        self.model: str | None = None
        self._message = "starting…"
        self._fraction = 0.0

    def poll(self) -> TrainingStatus:
        finished = not self.process.running
        code = self.process.wait() if finished else None  # reads the last lines
        events = self.process.events()
        for event in events:
            self._follow(event)
        new_epochs = sum(event.kind == "epoch" for event in events)
        status = TrainingStatus(self._fraction, self._message, new_epochs, finished, model=self.model)
        if not finished or self.model:
            return status
        if self.process.cancel_requested:
            status.cancelled = True
            status.message = f"cancelled; resume from the checkpoint in {self.run_folder}"
        else:
            status.error = self.process.error() or (
                f"training stopped (exit status {code}); a resumable checkpoint is in {self.run_folder}")
            status.message = "failed"
        return status

    def _follow(self, event: ProgressEvent) -> None:
        kind = event.kind
        if kind == "preprocess":
            self._message = f"preprocessing {event.done}/{event.total}"
        elif kind == "compile":
            self._message = "compiling… (the first steps take a while)"
        elif kind == "epoch":
            self.epochs.append({"epoch": event.done, **event.losses})
            self._fraction = event.done / event.total
            self._message = (f"epoch {event.done}/{event.total}: train {event.losses['train_total']:.4g}, "
                             f"validation {event.losses['val_total']:.4g}")
        elif kind == "done":
            self.model, self._fraction = event.model, 1.0
            self._message = f"finished: {event.model}"
