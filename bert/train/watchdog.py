"""The step watchdog: a worker that lives but makes no step (a read that never returns, a
deadlocked collective) prints every thread's Python stack and exits 1, so that the launch path
restarts it like a dead worker. faulthandler does both from a C thread: it fires even when the
main thread is stuck holding the GIL. Also registered here: SIGUSR1 prints the stacks on demand —
the launch path sends it to a worker it is about to kill because another rank failed.

The window is RunConfig.step_timeout, or derived from the steps measured so far: max(FLOOR_S,
FACTOR × the median step of the last WINDOW steps). It is armed after the first step (graph
compilation is not a step) and covers everything between two steps (evaluation, saving)."""
from __future__ import annotations

import faulthandler
import os
import signal
import statistics
import sys
import threading
import time
from collections import deque

FLOOR_S = 600.0  # the shortest derived window: saves, evaluations and a slow filesystem fit in it
FACTOR = 20  # the derived window in median steps
WINDOW = 100  # steps the median is taken over
BLOCK_READ_ENV = "BERT_TEST_BLOCK_READ"  # tests only: "RANK:STEP:MARKER" (see block_read_for_tests)


class StepWatchdog:
    """`beat()` after every step; `stop()` when the loop ends."""

    def __init__(self, step_timeout: float | None):
        self.fixed = step_timeout  # None: derived; 0: off
        self.steps: deque[float] = deque(maxlen=WINDOW)
        self.last: float | None = None
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)

    def timeout(self) -> float:
        if self.fixed is not None:
            return self.fixed
        return max(FLOOR_S, FACTOR * statistics.median(self.steps)) if self.steps else FLOOR_S

    def beat(self) -> None:
        now = time.monotonic()
        if self.last is not None:
            self.steps.append(now - self.last)
        self.last = now
        if self.fixed != 0:
            faulthandler.dump_traceback_later(self.timeout(), exit=True, file=sys.stderr)

    def stop(self) -> None:
        faulthandler.cancel_dump_traceback_later()


def block_read_for_tests(rank: int, step: int) -> None:
    """Blocks forever when BERT_TEST_BLOCK_READ is "RANK:STEP:MARKER" for this rank and step and the
    file MARKER does not exist yet (it is created first, so a restarted worker reads on). For the
    watchdog's tests only: no configuration key reaches it."""
    switch = os.environ.get(BLOCK_READ_ENV)
    if not switch:
        return
    block_rank, block_step, marker = switch.split(":", 2)
    if (int(block_rank), int(block_step)) != (rank, step) or os.path.exists(marker):
        return
    open(marker, "w", encoding="utf-8").close()
    print(f"{BLOCK_READ_ENV}: rank {rank} blocks its read of step {step}", file=sys.stderr, flush=True)
    threading.Event().wait()
