"""The machines table, updated in place: rows are added, removed and changed by key."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import DataTable

from imgproc.tui.model import ConsoleSnapshot, MachineRow
from imgproc.tui.text import duration

COLUMNS = (("id", "machine"), ("state", "state"), ("address", "address"),
           ("uptime", "uptime"), ("jobs", "jobs done"), ("job", "current job"))


def cells(row: MachineRow) -> tuple[str, ...]:
    return (row.id, row.state, row.address or "-", duration(row.uptime_s), str(row.jobs_done),
            row.current_job or "-")


class MachinesTable(DataTable):
    """One row per machine, keyed by its id; never cleared and rebuilt.

    Columns only grow: asking the table to fit a cell that got narrower makes it
    measure the whole column, for every such cell, which with hundreds of rows
    refreshed every second costs more than everything else on screen. Behind
    another screen the table waits, and catches up when shown again.
    """

    snapshot: reactive[ConsoleSnapshot | None] = reactive(None)

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: dict[str, tuple[str, ...]] = {}
        self._widths = {key: len(label) for key, label in COLUMNS}
        self._behind = False

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def watch_snapshot(self, snapshot: ConsoleSnapshot | None) -> None:
        self._behind = not self.screen.is_current
        if snapshot is not None and not self._behind:
            self.show(snapshot.machines)

    def _screen_changed(self, screen) -> None:
        if screen is self.screen and self._behind:
            self.watch_snapshot(self.snapshot)

    def show(self, rows: tuple[MachineRow, ...]) -> None:
        """Make the table hold exactly ``rows``, touching only what changed."""
        wanted = {row.id: cells(row) for row in rows}
        for key in [k for k in self._shown if k not in wanted]:
            self.remove_row(key)
        keys = [key for key, _ in COLUMNS]
        for key, values in wanted.items():
            old = self._shown.get(key)
            if old is None:
                self.add_row(*values, key=key)
                self._widen(keys, values)
                continue
            for column, before, after in zip(keys, old, values, strict=True):
                if before != after:
                    wider = len(after) > self._widths[column]
                    self.update_cell(key, column, after, update_width=wider)
                    self._widths[column] = max(self._widths[column], len(after))
        self._shown = wanted
        self.border_title = f"machines ({len(wanted)})"

    def _widen(self, keys: list[str], values: tuple[str, ...]) -> None:
        for column, value in zip(keys, values, strict=True):
            self._widths[column] = max(self._widths[column], len(value))
