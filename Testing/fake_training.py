"""A stand-in for ``python -m AttriVAELib train --progress json`` that the widget tests launch: the same
JSON events, stdin cancel protocol and exit codes, in a fraction of a second per epoch.

Usage: ``python fake_training.py OUT EPOCHS MODEL [STOP_DELAY_S]``. Emits preprocess, compile (1.2 s), then one
epoch every 0.1 s; at the end copies MODEL into OUT and emits ``done``. On a ``cancel`` line on stdin it waits
STOP_DELAY_S (a checkpoint being written), prints the resume hint and exits with 130, as training does.
"""

import json
import shutil
import sys
import threading
import time
from pathlib import Path

from AttriVAELib.progress import ProgressEvent  # importable: TrainingProcess puts the library on PYTHONPATH


def emit(event: ProgressEvent) -> None:
    print(json.dumps(event.to_json()), flush=True)


def main(out: str, epochs: int, model: str, stop_delay_s: float = 0.0) -> int:
    cancelled = threading.Event()

    def watch() -> None:
        for line in sys.stdin:
            if line.strip() == "cancel":
                cancelled.set()
                return

    threading.Thread(target=watch, daemon=True).start()
    Path(out).mkdir(parents=True, exist_ok=True)
    emit(ProgressEvent("preprocess", done=1, total=1))
    emit(ProgressEvent("compile"))
    time.sleep(1.2)  # long enough for the panel's 0.5 s timer to show it
    for epoch in range(1, epochs + 1):
        if cancelled.is_set():
            time.sleep(stop_delay_s)
            print(f"attrivae: training interrupted after {epoch - 1} finished epoch(s); continue with "
                  f"attrivae train --resume --out {out}", file=sys.stderr, flush=True)
            return 130
        emit(ProgressEvent("epoch", done=epoch, total=epochs, losses={"train_total": 10.0 / epoch,
                                                                      "val_total": 12.0 / epoch}))
        time.sleep(0.1)
    target = Path(out) / "model.safetensors"
    shutil.copy(model, target)
    emit(ProgressEvent("done", model=str(target)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], *(float(a) for a in sys.argv[4:])))
