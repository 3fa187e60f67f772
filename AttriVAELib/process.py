"""Training in a separate process, as the Slicer module runs it: the command line, its JSON progress lines,
and a runner that can be polled without blocking and cancelled.

The child is ``python -m AttriVAELib train ... --progress json``: one JSON object per line on stdout (the
events of :func:`AttriVAELib.training.train`: ``note``, ``preprocess``, ``compile``, ``batch``, ``epoch``,
``done``; :mod:`AttriVAELib.progress` lists them), errors as one ``attrivae: error: ...`` line on stderr,
results as files in the run folder.
"""

from __future__ import annotations

__all__ = ["TrainingProcess", "parse_progress", "training_command"]

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

_WINDOWS = sys.platform == "win32"


def training_command(data: Path | str, out: Path | str, *, data_format: str = "auto", preset: str = "paper",
                     attributes: Sequence[str] = (), epochs: int | None = None, size: int | None = None,
                     device: str = "auto", augment: float | None = None, python: str | None = None) -> list[str]:
    """The command line of a training process that reports progress as JSON lines (``None``: the preset's
    value; ``size``: network cube edge in voxels; ``augment``: probability of each random in-plane flip and
    90° rotation; ``python``: default this interpreter)."""
    command = [python or sys.executable, "-m", "AttriVAELib", "train", "--data", str(data), "--out", str(out),
               "--format", data_format, "--preset", preset, "--device", device, "--progress", "json"]
    if attributes:
        command += ["--attributes", ",".join(attributes)]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    if size is not None:
        command += ["--size", str(size)]
    if augment is not None:
        command += ["--augment", str(augment)]
    return command


def parse_progress(line: str) -> dict[str, Any] | None:
    """One progress event from one output line, or None for any other line (logs, warnings, blank)."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        event = json.loads(text)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("event"), str) else None


class TrainingProcess:
    """A running training process: :meth:`events` drains its progress without blocking (call it from a
    GUI timer), :meth:`cancel` stops it and everything it started.

    Cancel first interrupts (as Ctrl-C: training saves a resumable checkpoint of the last finished epoch),
    then kills the whole process group if it has not ended after ``grace_s`` seconds."""

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None) -> None:
        environment = dict(os.environ if env is None else env)
        library_parent = str(Path(__file__).resolve().parent.parent)  # the child imports this same AttriVAELib
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [library_parent, environment.get("PYTHONPATH")]))
        environment["PYTHONUNBUFFERED"] = "1"
        group = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if _WINDOWS  # type: ignore[attr-defined]
                 else {"start_new_session": True})
        self.process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        encoding="utf-8", errors="replace", env=environment, **group)
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr_lines: list[str] = []
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

    def events(self) -> list[dict[str, Any]]:
        """Progress events received since the last call (never blocks)."""
        received = []
        while True:
            try:
                received.append(self._events.get_nowait())
            except queue.Empty:
                return received

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def error(self) -> str | None:
        """The child's one-line error message, when it reported one."""
        errors = [line for line in self.stderr_lines if line.startswith("attrivae: error:")]
        return errors[-1].removeprefix("attrivae: error:").strip() if errors else None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end (and for its output to be read); return the exit status."""
        code = self.process.wait(timeout)
        for reader, stream in zip(self._readers, (self.process.stdout, self.process.stderr)):
            reader.join(timeout)
            if not reader.is_alive():
                stream.close()
        return code

    def cancel(self, grace_s: float = 10.0) -> int:
        """Interrupt, then kill the process tree if needed; return the exit status."""
        if self.running:
            self._signal(signal.CTRL_BREAK_EVENT if _WINDOWS else signal.SIGINT)  # type: ignore[attr-defined]
            try:
                return self.wait(grace_s)
            except subprocess.TimeoutExpired:
                self._kill_tree()
        return self.wait()

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # it may end between the check and the signal
            if _WINDOWS:
                self.process.send_signal(number)
            else:
                os.killpg(self.process.pid, number)  # the child leads its own session: this reaches the whole tree

    def _kill_tree(self) -> None:
        if _WINDOWS:
            subprocess.run(["taskkill", "/T", "/F", "/PID", str(self.process.pid)], capture_output=True, check=False)
        else:
            self._signal(signal.SIGKILL)
