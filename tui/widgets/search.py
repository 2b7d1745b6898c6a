"""Search the tree's paths: type to filter, enter or click to jump to one."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList

SHOWN = 200


def matching(paths: list[str], query: str, limit: int = SHOWN) -> list[str]:
    """Paths containing every word of ``query`` (case-insensitive), at most ``limit``."""
    words = query.lower().split()
    found = []
    for path in paths:
        low = path.lower()
        if all(w in low for w in words):
            found.append(path)
            if len(found) == limit:
                break
    return found


class SearchScreen(ModalScreen[str | None]):
    """Dismisses with the chosen path, or ``None``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel"),
                Binding("down", "move(1)", "Next", show=False),
                Binding("up", "move(-1)", "Previous", show=False)]

    def __init__(self, paths: list[str]) -> None:
        super().__init__(classes="dialog")
        self.paths = paths

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Search {len(self.paths)} paths")
            yield Input(placeholder="words of a path, e.g. machines sim-0003", id="query")
            yield OptionList(id="results")

    def on_mount(self) -> None:
        self._show("")

    @on(Input.Changed, "#query")
    def _filter(self, event: Input.Changed) -> None:
        self._show(event.value)

    def _show(self, query: str) -> None:
        results = self.query_one("#results", OptionList)
        results.clear_options()
        found = matching(self.paths, query)
        results.add_options(found)
        if found:
            results.highlighted = 0
        self.query_one(Label).update(f"{len(found)}{'+' if len(found) == SHOWN else ''} "
                                     f"of {len(self.paths)} paths")

    @on(Input.Submitted, "#query")
    def _take_first(self) -> None:
        results = self.query_one("#results", OptionList)
        if results.option_count:
            self.dismiss(str(results.get_option_at_index(results.highlighted or 0).prompt))

    @on(OptionList.OptionSelected, "#results")
    def _take(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(str(event.option.prompt))

    def action_move(self, step: int) -> None:
        """Move through the results while typing."""
        results = self.query_one("#results", OptionList)
        if results.option_count:
            current = results.highlighted or 0
            results.highlighted = max(0, min(results.option_count - 1, current + step))

    def action_cancel(self) -> None:
        self.dismiss(None)
