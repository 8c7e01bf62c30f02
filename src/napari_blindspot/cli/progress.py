"""The command line's progress bar: training and prediction events drawn by tqdm on stderr."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

from ..engine import PredictionProgress, TrainingProgress
from ..text import denoising_progress, loss_line, progress_line


class _Lines:
    """A stream for tqdm in a log file: every redraw becomes a line of its own."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._last = ""

    def write(self, text: str) -> None:
        line = text.replace("\r", "").replace("\x1b[A", "").rstrip()
        if line and line != self._last:  # closing the bar redraws its last state
            self.stream.write(line + "\n")
            self._last = line

    def flush(self) -> None:
        self.stream.flush()


class ProgressBar:
    """Training or prediction events as a tqdm progress bar on stderr: on a terminal one line
    redrawn five times a second, in a log file a line every five seconds."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr  # the one at the time (tests swap it)
        self.bar: tqdm | None = None  # made at the first event

    def _draw(self, fraction: float, text: str) -> None:
        value = int(round(1000 * min(max(fraction, 0.0), 1.0)))
        if self.bar is None:
            tty = self.stream.isatty()
            self.bar = tqdm(total=1000, initial=value, desc=text, ascii=not tty, dynamic_ncols=tty,
                            file=self.stream if tty else _Lines(self.stream),
                            mininterval=0.2 if tty else 5.0,
                            bar_format="{percentage:3.0f}% |{bar:28}| {desc}")
            return
        self.bar.set_description_str(text, refresh=False)
        self.bar.update(value - self.bar.n)

    def training(self, ev: TrainingProgress) -> None:
        self._draw(ev.progress, f"{progress_line(ev)} · {loss_line(ev)}")

    def prediction(self, ev: PredictionProgress) -> None:
        self._draw(ev.done / max(ev.total, 1), denoising_progress(ev.done, ev.total, ev.elapsed_s))

    def note(self, text: str) -> None:
        """A line of its own above the bar (or before it, when it is not drawn yet)."""
        if self.bar is None:
            self.stream.write(text + "\n")
            self.stream.flush()
        else:
            self.bar.clear()
            self.stream.write(text + "\n")
            self.stream.flush()
            self.bar.refresh()

    def end(self) -> None:
        if self.bar is not None:
            self.bar.close()
