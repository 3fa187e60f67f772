"""What a person sees of long commands: lines with elapsed and remaining time in logs, bars on a terminal."""

from __future__ import annotations

import io

from AttriVAELib.apps.console import ConsoleProgress, format_duration
from AttriVAELib.progress import ProgressEvent


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def epoch(number: int, total: int) -> ProgressEvent:
    return ProgressEvent("epoch", done=number, total=total, losses={"train_total": 100.0 / number, "val_total": 2.5})


def test_durations_read_as_a_clock():
    assert [format_duration(s) for s in (0, 59.4, 75.4, 3725)] == ["0:00", "0:59", "1:15", "1:02:05"]


def test_logs_get_a_line_per_interval_with_elapsed_and_remaining_time():
    clock, stream = Clock(), io.StringIO()
    progress = ConsoleProgress(stream, interval=30.0, terminal=False, clock=clock)
    for number in range(1, 11):  # 10 s per epoch
        clock.now = 10.0 * number
        progress(epoch(number, 10))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "train: 10 epochs"
    # the phase began when the progress display did; a line once 30 s have passed, and one at the end
    assert lines[1] == "train: 3/10 epochs (30 %), 0:30 elapsed, about 1:10 left; train loss 33.33, validation 2.5"
    assert lines[2] == "train: 6/10 epochs (60 %), 1:00 elapsed, about 0:40 left; train loss 16.67, validation 2.5"
    assert lines[3] == "train: 9/10 epochs (90 %), 1:30 elapsed, about 0:10 left; train loss 11.11, validation 2.5"
    assert lines[4] == "train: 10/10 epochs (100 %), 1:40 elapsed; train loss 10, validation 2.5"
    assert len(lines) == 5


def test_the_first_epoch_counts_from_the_end_of_preprocessing_not_from_its_last_batch():
    clock, stream = Clock(), io.StringIO()
    progress = ConsoleProgress(stream, interval=0.0, terminal=False, clock=clock)
    progress(ProgressEvent("preprocess", done=1, total=1))  # at 0 s
    for number in (1, 2):  # 10 s per epoch, batches every 4 s
        for step in (1, 2):
            clock.now += 4.0
            progress(ProgressEvent("batch", done=step, total=2, epoch=number, losses={"total": 1.0, "ar": 0.1}))
        clock.now += 2.0
        progress(epoch(number, 4))
    assert "train: 2/4 epochs (50 %), 0:20 elapsed, about 0:20 left" in stream.getvalue()


def test_a_resumed_run_estimates_from_its_own_epochs():
    clock, stream = Clock(), io.StringIO()
    progress = ConsoleProgress(stream, interval=0.0, terminal=False, clock=clock)
    for number, now in ((51, 2.0), (52, 4.0), (53, 6.0)):  # resumed after 50 epochs; 2 s per epoch since
        clock.now = now
        progress(epoch(number, 100))
    text = stream.getvalue()
    assert "train: 52/100 epochs (52 %), 0:04 elapsed; train" in text  # 2 of its 50 epochs: under 5 %, no estimate
    assert "train: 53/100 epochs (53 %), 0:06 elapsed, about 1:34 left" in text


def test_estimates_leave_out_the_work_before_a_phase_s_first_count_and_are_never_twice_too_long():
    """Attention localisation's first subject comes after the model's other metrics (here 30 s); its
    subjects then take 1–2 s each. Every estimate once 5 % is done is within 2× of the truth."""
    clock, stream = Clock(), io.StringIO()
    progress = ConsoleProgress(stream, interval=0.0, terminal=False, clock=clock)
    progress(ProgressEvent("note", text="evaluating on 60 subjects"))
    clock.now = 30.0
    durations = [1.0 + (subject * 7 % 10) / 10 for subject in range(60)]  # 1.0–1.9 s, no trend
    finish = [30.0 + sum(durations[:done]) for done in range(1, 61)]
    for done, now in enumerate(finish, start=1):
        clock.now = now
        progress(ProgressEvent("evaluate", done=done, total=60))
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("attention localisation: ")][1:]
    assert "left" not in lines[0] and "left" not in lines[1]  # one subject: no rate yet; two: under 5 %
    for done, line in enumerate(lines, start=1):
        if done >= 3 and done < 60:
            estimate = line.split("about ")[1].split(" left")[0]
            minutes, seconds = estimate.split(":")
            truth = finish[-1] - finish[done - 1]
            assert truth / 2 <= 60 * int(minutes) + int(seconds) <= 2 * truth, line


def test_the_traversal_fidelity_sweep_is_a_phase_of_its_own_before_attention_localisation():
    """The sweep (70 s) shows its own count, and attention localisation's elapsed time starts after it."""
    clock, stream = Clock(), io.StringIO()
    progress = ConsoleProgress(stream, interval=0.0, terminal=False, clock=clock)
    progress(ProgressEvent("note", text="evaluating on 2 subjects"))
    for done in range(1, 15):  # 7 attributes × 2 subjects, 5 s each
        clock.now += 5.0
        progress(ProgressEvent("fidelity", done=done, total=14))
    for done in (1, 2):
        clock.now += 1.0
        progress(ProgressEvent("evaluate", done=done, total=2))
    lines = stream.getvalue().splitlines()
    assert lines[1:3] == ["traversal fidelity: 14 traversals",
                          "traversal fidelity: 1/14 traversals (7 %), 0:05 elapsed"]
    assert "traversal fidelity: 14/14 traversals (100 %), 1:10 elapsed" in lines
    assert lines[-1] == "attention localisation: 2/2 subjects (100 %), 0:02 elapsed"


def test_phases_notes_and_cross_validation_runs():
    clock, stream = Clock(), io.StringIO()
    progress = ConsoleProgress(stream, interval=1e9, terminal=False, clock=clock)
    for done in (1, 2):
        progress(ProgressEvent("preprocess", done=done, total=2))
    progress(ProgressEvent("note", text="evaluating on 5 subjects"))
    progress(ProgressEvent("compile"))
    for run in (1, 2):
        for number in (1, 2):
            clock.now += 5.0
            progress(epoch(number, 2))
        progress(ProgressEvent("crossval", done=run, total=4, text=f"vae, seed 0, fold {run - 1}"))
    text = stream.getvalue()
    assert "preprocess: 2/2 subjects (100 %)" in text and "evaluating on 5 subjects\n" in text
    assert "torch.compile: the first training steps compile" in text
    assert text.count("train: 2 epochs") == 2  # a new run starts a new phase
    assert "cross-validate: 2/4 runs, 0:20 elapsed, about 0:20 left (finished vae, seed 0, fold 1)" in text


def test_a_resumed_cross_validation_estimates_from_the_runs_it_trains():
    clock, stream = Clock(), io.StringIO()
    progress = ConsoleProgress(stream, interval=1e9, terminal=False, clock=clock)
    progress(ProgressEvent("crossval", done=8, total=10))  # kept from before
    clock.now += 60.0
    progress(ProgressEvent("crossval", done=9, total=10, text="vae, seed 1, fold 0"))
    text = stream.getvalue()
    assert "cross-validate: 8/10 runs kept from before\n" in text
    assert "cross-validate: 9/10 runs, 1:00 elapsed, about 1:00 left (finished vae, seed 1, fold 0)" in text


def test_a_run_resumed_near_its_end_counts_as_the_share_it_trained():
    """The first run continues from its checkpoint for its last epoch (1 s), then runs take 80 s each: after
    the second, 10 runs are left, about 800 s (not 10 × the 40.5 s the two took on average)."""
    clock, stream = Clock(), io.StringIO()
    progress = ConsoleProgress(stream, interval=1e9, terminal=False, clock=clock)
    clock.now = 1.0
    progress(epoch(80, 80))
    progress(ProgressEvent("crossval", done=1, total=12, text="beta-vae, seed 0, fold 0"))
    for number in range(1, 81):
        clock.now += 1.0
        progress(epoch(number, 80))
    progress(ProgressEvent("crossval", done=2, total=12, text="beta-vae, seed 0, fold 1"))
    assert "cross-validate: 2/12 runs, 1:21 elapsed, about 13:20 left (finished beta-vae, seed 0, fold 1)" in \
        stream.getvalue()


def test_a_terminal_gets_bars_with_elapsed_and_remaining_time():
    stream = io.StringIO()
    progress = ConsoleProgress(stream, terminal=True)
    for number in range(1, 4):
        progress(epoch(number, 3))
    text = stream.getvalue()
    assert "train: 100%" in text and "3/3" in text
    assert "<00:00" in text  # tqdm's [elapsed<remaining]
    assert "validation 2.5" in text
    assert "\n" in text and not text.rstrip().endswith("%")  # the finished bar stays
