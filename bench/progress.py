"""A small text progress bar for stderr (no tqdm dependency): redrawn in place on a terminal,
one line per 10 % step otherwise, so CI logs stay short."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH_CHARACTERS = 30
LOG_STEP_FRACTION = 0.1


class ProgressBar:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self._last_logged = -1.0

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        elapsed = time.perf_counter() - self.started
        filled = int(round(fraction * BAR_WIDTH_CHARACTERS))
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH_CHARACTERS - filled)}] {fraction:4.0%} {elapsed:6.1f}s {message}"
        if self.interactive:
            self.stream.write("\r\x1b[K" + line[:150])
            if fraction >= 1.0:
                self.stream.write("\n")
        elif fraction >= 1.0 or fraction - self._last_logged >= LOG_STEP_FRACTION:
            self.stream.write(line + "\n")
            self._last_logged = fraction
        self.stream.flush()
