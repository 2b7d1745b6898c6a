"""The help screen: every key of the console, by where it works."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Section = tuple[str, list[tuple[str, str]]]


def describe(bindings: Iterable[BindingType], display: Callable[[Binding], str]
             ) -> list[tuple[str, str]]:
    """(key, what it does) for each binding; bindings sharing a description are merged."""
    rows: dict[str, list[str]] = {}
    for binding in Binding.make_bindings(bindings):  # one binding a key
        rows.setdefault(binding.description or binding.action, []).append(display(binding))
    return [(" ".join(keys), what) for what, keys in rows.items()]


class HelpScreen(ModalScreen[None]):
    """Lists the keys, the first section in a column of its own; escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, sections: list[Section]) -> None:
        super().__init__(classes="dialog")
        self.sections = sections

    def compose(self) -> ComposeResult:
        first, rest = self.sections[0], self.sections[1:]
        with Horizontal(id="help"):
            with VerticalScroll():
                yield from self._section(*first)
            with VerticalScroll():
                for section in rest:
                    yield from self._section(*section)

    @staticmethod
    def _section(title: str, rows: list[tuple[str, str]]) -> ComposeResult:
        yield Static(title, classes="help-title")
        table = Table(show_header=False, box=None, padding=(0, 1))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, what in rows:
            table.add_row(key, what)
        yield Static(table, classes="help-keys")
