"""A panel per child process (deployer, scaler): its state and its last lines of output."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from imgproc.tui.model import ComponentStatus, ConsoleSnapshot

KEPT_LINES = 200


class ComponentPanel(Widget, can_focus=True):
    """Shows one component; when focused, its keys ask the app to start, stop or restart it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "act('start')", "Start"),
        Binding("x", "act('stop')", "Stop"),
        Binding("e", "act('restart')", "Restart"),
    ]

    snapshot: reactive[ConsoleSnapshot | None] = reactive(None)

    class ActionRequested(Message):
        """The operator asked for ``action`` (start, stop, restart) on component ``name``."""

        def __init__(self, name: str, action: str) -> None:
            super().__init__()
            self.name = name
            self.action = action

    def __init__(self, component: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.component = component
        self.border_title = component

    def status(self) -> ComponentStatus | None:
        snap = self.snapshot
        if snap is None:
            return None
        return next((c for c in snap.components if c.name == self.component), None)

    def watch_snapshot(self) -> None:
        status = self.status()
        self.border_subtitle = status.state if status else "not reported"

    def render(self) -> Text:
        status = self.status()
        if status is None or not status.lines:
            return Text("no output", style="dim")
        room = max(1, self.content_size.height)
        return Text("\n".join(status.lines[-min(room, KEPT_LINES):]), no_wrap=True,
                    overflow="ellipsis")

    def action_act(self, action: str) -> None:
        self.post_message(self.ActionRequested(self.component, action))
