"""Progress events (:class:`~AttriVAELib.progress.ProgressEvent`) shown to a person on a console: bars on a
terminal, lines with elapsed and remaining time in logs."""

from __future__ import annotations

__all__ = ["ConsoleProgress", "format_duration", "format_metric"]

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from ..progress import ProgressEvent

if TYPE_CHECKING:
    from tqdm import tqdm

_PHASES = {  # event kind → (phase name, unit counted by done/total)
    "synth": ("synthesise", "subject"),
    "preprocess": ("preprocess", "subject"),
    "epoch": ("train", "epoch"),
    "fidelity": ("traversal fidelity", "traversal"),
    "evaluate": ("attention localisation", "subject"),
    "encode": ("encode", "subject"),
}
ESTIMATE_AFTER = 0.05
"""Share of a phase's work done before its remaining time is estimated: earlier the rate is mostly noise."""


def format_duration(seconds: float) -> str:
    """``75.4`` → ``1:15``; ``3725`` → ``1:02:05``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_metric(value: float | None, signed: bool = False) -> str:
    """Three decimals (``signed``: with its sign), or ``n/a`` for a metric that is undefined here (one class,
    a constant code): ``None`` or not finite."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


@dataclass
class _Phase:
    """Counts of one phase (one training run, one preprocessing pass) and their timing."""

    name: str
    unit: str
    total: int
    start_count: int  # done before this process started on it (a resumed run)
    started: float  # clock time the phase began (the event before its first count)
    first_done: int = 0  # count of the phase's first event, and its clock time: the rate is measured from there,
    first_at: float = 0.0  # so work done before it (setting up, other steps) does not inflate the estimate
    done: int = 0
    last_line: float = 0.0  # clock time of the last log line

    def times(self, now: float, since_first: float | None = None) -> str:
        """``2:01 elapsed, about 4:42 left``: the remaining time extrapolates the rate since the phase's first
        count, once :data:`ESTIMATE_AFTER` of its work is done and at least two counts came. ``since_first``:
        the work done since the first count, in counts, where a count was not all done in this phase (a
        cross-validation run resumed from its checkpoint); default the counts themselves."""
        text = f"{format_duration(now - self.started)} elapsed"
        since_first = self.done - self.first_done if since_first is None else since_first
        remaining = self.total - self.done
        if since_first > 0 and remaining > 0 and self.done - self.start_count >= ESTIMATE_AFTER * (
                self.total - self.start_count):
            text += f", about {format_duration((now - self.first_at) / since_first * remaining)} left"
        return text

    @property
    def share_done_here(self) -> float:
        """Share of the phase's work done in this phase (less than 1 when it resumed work done before)."""
        return (self.done - self.start_count) / self.total


class ConsoleProgress:
    """Shows progress events to a person, on ``stream`` (standard error by default).

    On a terminal each phase (synthesis, preprocessing, training, evaluation) is a bar with elapsed time
    and an estimate of the remaining time (tqdm). Elsewhere (a log file, a pipe, CI) each phase writes a
    line when it starts, at most one line every ``interval`` seconds, and one when it ends, each with the
    count, the elapsed time and the estimate; cross-validation writes a line per finished run either way.
    """

    def __init__(self, stream: TextIO | None = None, interval: float = 30.0, terminal: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.interval = interval
        self.clock = clock
        self.phase: _Phase | None = None
        self.bar: tqdm | None = None
        self.runs: _Phase | None = None  # cross-validation runs
        self.runs_trained = 0.0  # runs' worth of training done by this process (a resumed run counts its share)
        self.run_share = 1.0  # share of the current run's epochs trained by this process
        self.created = clock()
        self.last_event = self.created  # a new phase started when the event before its first one came

    def __call__(self, event: ProgressEvent) -> None:
        kind = event.kind
        if kind in _PHASES:
            self._count(event)
        elif kind == "batch" and self.bar is not None:
            self.bar.set_postfix(loss=f"{event.losses['total']:.4g}", ar=f"{event.losses['ar']:.3f}", refresh=False)
        elif kind == "compile":
            self._line("torch.compile: the first training steps compile the model (about a minute on 2 cores; "
                       "--compile off skips it)")
        elif kind == "note":
            self._line(event.text)
        elif kind == "done":
            self.close()
        elif kind == "crossval":
            self._finished_run(event)
        if kind != "batch":  # a phase begins after the previous phase's last count, not inside an epoch
            self.last_event = self.clock()

    def _count(self, event: ProgressEvent) -> None:
        name, unit = _PHASES[event.kind]
        done, total, now = event.done, event.total, self.clock()
        if self.phase is None or self.phase.name != name or done <= self.phase.done:
            self.close()
            self.phase = _Phase(name, unit, total, start_count=done - 1, started=self.last_event,
                                first_done=done, first_at=now, last_line=self.last_event)
            if self.terminal:
                from tqdm import tqdm  # imported when a terminal shows bars

                self.bar = tqdm(total=total, initial=done - 1, desc=name, unit=unit, file=self.stream,
                                dynamic_ncols=True)
                self.bar.start_t -= now - self.last_event  # the phase began before its first event
            else:
                self._line(f"{name}: {total} {unit}s")
        self.phase.done = done
        if event.kind == "epoch":
            self.run_share = self.phase.share_done_here
        note = _note(event)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            if note:
                self.bar.set_postfix_str(note, refresh=False)
        elif done == total or now - self.phase.last_line >= self.interval:
            self.phase.last_line = now
            self._line(f"{name}: {done}/{total} {unit}s ({100 * done // total} %), {self.phase.times(now)}"
                       + (f"; {note}" if note else ""))
        if done == total:
            self.close()

    def _finished_run(self, event: ProgressEvent) -> None:
        now = self.clock()
        if self.runs is None:  # a resumed cross-validation first counts the runs it kept (no run named)
            first_done, first_at = (0, self.created) if event.text else (event.done, now)
            self.runs = _Phase("cross-validate", "run", event.total, first_done, self.created, first_done, first_at)
        self.runs.done = event.done
        if event.text:
            self.runs_trained += self.run_share
            self.run_share = 1.0
            self._line(f"cross-validate: {self.runs.done}/{self.runs.total} runs, "
                       f"{self.runs.times(now, self.runs_trained)} (finished {event.text})")
        else:
            self._line(f"cross-validate: {self.runs.done}/{self.runs.total} runs kept from before")

    def _line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """End the current phase (its bar stays on screen)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.phase = None


def _note(event: ProgressEvent) -> str:
    """The losses of a finished epoch, for the bar or the log line."""
    if event.kind != "epoch":
        return ""
    return f"train loss {event.losses['train_total']:.4g}, validation {event.losses['val_total']:.4g}"
