"""Modal dialogs: confirm an action, choose what quitting does, start a replay.

Each dismisses with its answer (``None`` for cancel); the caller acts on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no to one action."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("y", "answer(True)", "Yes"),
                Binding("n", "answer(False)", "No"),
                Binding("escape", "answer(False)", "Cancel")]

    def __init__(self, question: str) -> None:
        super().__init__(classes="dialog")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class QuitScreen(ModalScreen[str | None]):
    """Machines are running: destroy them, leave them running, or stay."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("d", "answer('destroy')", "Destroy"),
                Binding("l", "answer('leave')", "Leave"),
                Binding("escape", "answer(None)", "Cancel")]

    def __init__(self, machines: int, can_destroy: bool = True) -> None:
        super().__init__(classes="dialog")
        self.machines = machines
        self.can_destroy = can_destroy

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.machines} machine(s) are running. Destroy them before quitting, "
                        "or leave them running?")
            with Horizontal(classes="buttons"):
                yield Button("Destroy (d)", id="destroy", variant="error",
                             disabled=not self.can_destroy)
                yield Button("Leave running (l)", id="leave", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_answer(None if event.button.id == "cancel" else event.button.id)

    def action_answer(self, answer: str | None) -> None:
        if answer == "destroy" and not self.can_destroy:
            self.notify("read-only: machines cannot be destroyed", severity="warning")
            return
        self.dismiss(answer)


class ReplayScreen(ModalScreen[tuple[Path, float] | None]):
    """Pick a trace from the workloads folder and a speed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, traces: list[Path], speed: float) -> None:
        super().__init__(classes="dialog")
        self.traces = traces
        self.speed = speed

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Replay a trace")
            yield OptionList(*[Option(p.name, id=str(p)) for p in self.traces], id="traces")
            with Horizontal(classes="field"):
                yield Label("speed ")
                yield Input(f"{self.speed:g}", type="number", id="speed")
            with Horizontal(classes="buttons"):
                yield Button("Start (enter)", id="start", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        if not self.traces:
            self.query_one(Label).update("No trace (*.jsonl) in the workloads folder")
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    @on(Input.Submitted)
    def _start(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        options = self.query_one(OptionList)
        index = options.highlighted
        try:
            speed = float(self.query_one("#speed", Input).value)
        except ValueError:
            speed = 0.0
        if index is None or speed <= 0:
            self.notify("choose a trace and a speed above 0", severity="warning")
            return
        self.dismiss((self.traces[index], speed))

    def action_cancel(self) -> None:
        self.dismiss(None)
