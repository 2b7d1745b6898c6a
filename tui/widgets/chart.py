"""A small line chart: plotext draws it as text the size of the widget.

plotext keeps one global figure, so a chart is drawn in one go (clear, plot,
build) under a lock; the text is kept until the data or the size changes.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence

import plotext as plt
from rich.text import Text
from textual import work
from textual.widget import Widget

from imgproc.tui.text import duration

HISTORY = 300
XTICKS = 4
YTICKS = 4


def nice_ticks(top: float, count: int = YTICKS) -> list[float]:
    """Round ticks from 0 covering ``top``: steps of 1, 2 or 5 times a power of ten."""
    if top <= 0:
        return [0.0, 1.0]
    rough = top / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    return [i * step for i in range(math.ceil(top / step) + 1)]


def squeeze(points: list[tuple[float, tuple]], most: int) -> list[tuple[float, tuple]]:
    """At most ``most`` points (one per column of the chart): consecutive
    points are merged, keeping each series' highest value so that peaks stay visible."""
    size = math.ceil(len(points) / most) if most > 0 else 1
    if size <= 1:
        return points
    merged = []
    for start in range(0, len(points), size):
        group = points[start:start + size]
        columns = zip(*(values for _, values in group), strict=True)
        merged.append((group[-1][0], tuple(max((v for v in c if v is not None), default=None)
                                           for c in columns)))
    return merged


Point = tuple[float, tuple[float | None, ...]]
Level = tuple[str, float, str]


def draw(points: list[Point], labels: Sequence[str], colors: Sequence[str], level: Level | None,
         width: int, height: int) -> Text:
    """The chart as text ``width`` x ``height``: plotext's global figure, cleared and built.

    Callers hold :attr:`LineChart.plotext`: plotext has one figure per process.
    """
    if width < 10 or height < 3:
        return Text("")
    if not points:
        return Text("waiting for data", style="dim")
    points = squeeze(points, width)
    xs = [x for x, _ in points]
    top = 0.0
    plt.clf()
    plt.plotsize(width, height)
    plt.theme("clear")
    for i, (label, color) in enumerate(zip(labels, colors, strict=True)):
        pairs = [(x, y) for x, v in points if (y := v[i]) is not None]
        if pairs:
            plt.plot([p[0] for p in pairs], [p[1] for p in pairs], label=label, color=color,
                     marker="braille")
            top = max(top, max(p[1] for p in pairs))
    if level is not None:
        label, y, color = level
        plt.plot([xs[0], xs[-1]], [y, y], label=label, color=color, marker="braille")
        top = max(top, y)
    yticks = nice_ticks(top)
    plt.ylim(0, yticks[-1])
    plt.yticks(yticks, [f"{t:g}" for t in yticks])
    low, high = xs[0], max(xs[-1], xs[0] + 1)
    plt.xlim(low, high)
    ticks = [low + (high - low) * i / (XTICKS - 1) for i in range(XTICKS)]
    plt.xticks(ticks, [duration(t) for t in ticks])
    return Text.from_ansi(plt.build(), no_wrap=True, end="")


class LineChart(Widget):
    """Lines over time, bounded to the last ``history`` points, with an optional level line.

    Drawing takes a few milliseconds per chart, so it runs in a thread worker
    whenever the data or the size changes, and ``render`` shows the last
    drawing: keys stay responsive while the charts are redrawn every second.
    Behind another screen a chart is not drawn; it is when shown again.
    """

    DEFAULT_CSS = """
    LineChart { height: 1fr; border: round $primary-darken-2; }
    """

    #: plotext draws on one figure per process: one chart is drawn at a time.
    plotext = threading.Lock()

    def __init__(self, title: str, labels: Sequence[str], colors: Sequence[str],
                 history: int = HISTORY, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = title
        self.labels = tuple(labels)
        self.line_colors = tuple(colors)
        self.points: deque[Point] = deque(maxlen=history)
        self.level: Level | None = None
        self._version = 0
        self._drawn: tuple[int, Text] = (0, Text("waiting for data", style="dim"))
        self._stale = False

    def add(self, x: float, values: Sequence[float | None]) -> None:
        """Append a point; a point earlier than the last (a new run) starts a new history,
        one at the same time replaces the last."""
        point = (x, tuple(values))
        if self.points and self.points[-1] == point:
            return
        if self.points and x < self.points[-1][0]:
            self.points.clear()
        if self.points and x == self.points[-1][0]:
            self.points.pop()
        self.points.append(point)
        self._redraw()

    def set_level(self, label: str, y: float, color: str = "red") -> None:
        """A horizontal line at ``y`` (an objective), drawn as a labelled series."""
        if self.level != (label, y, color):
            self.level = (label, y, color)
            self._redraw()

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def on_resize(self) -> None:
        self._redraw()

    def render(self) -> Text:
        return self._drawn[1]

    def _screen_changed(self, screen) -> None:
        if screen is self.screen and self._stale:
            self._redraw()

    def _redraw(self) -> None:
        self._version += 1
        self._stale = not self.screen.is_current
        if self._stale:
            return
        width, height = self.content_size
        self._draw_worker(self._version, list(self.points), self.level, width, height)

    @work(thread=True, exclusive=True, group="chart")
    def _draw_worker(self, version: int, points: list[Point], level: Level | None,
                     width: int, height: int) -> None:
        with self.plotext:
            text = draw(points, self.labels, self.line_colors, level, width, height)
        self.app.call_from_thread(self._show, version, text)

    def _show(self, version: int, text: Text) -> None:
        if version > self._drawn[0]:
            self._drawn = (version, text)
            self.refresh()
