"""The status bar: policy, where the console is connected, job counts, replay, notices."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from imgproc.tui.model import ConsoleSnapshot
from imgproc.tui.text import duration, params


class StatusBar(Widget):
    """Three lines about the run, and a fourth for notices (read-only, no service...)."""

    DEFAULT_CSS = "StatusBar { height: 4; padding: 0 1; }"

    snapshot: reactive[ConsoleSnapshot | None] = reactive(None)
    read_only: reactive[bool] = reactive(False)

    def render(self) -> Text:
        snap = self.snapshot
        if snap is None:
            return Text("connecting...", style="dim")
        return Text("\n").join([self._policy(snap), self._where(snap), self._jobs(snap),
                                self._notice(snap)])

    @staticmethod
    def _policy(snap: ConsoleSnapshot) -> Text:
        line = Text.assemble(("policy ", "dim"), (snap.policy, "bold cyan"))
        if snap.policy_params:
            line.append(f"  {params(snap.policy_params)}")
        applied = ("at start" if snap.policy_applied_at is None
                   else f"at {duration(snap.policy_applied_at)}")
        line.append(f"  applied {applied}", style="dim")
        line.append(f"   t={duration(snap.now)}", style="bold")
        return line

    @staticmethod
    def _where(snap: ConsoleSnapshot) -> Text:
        return Text.assemble(("backend ", "dim"), (snap.backend, "bold"), ("  broker ", "dim"),
                             snap.broker, ("  ZooKeeper ", "dim"), snap.zookeeper)

    @staticmethod
    def _jobs(snap: ConsoleSnapshot) -> Text:
        line = Text.assemble(("jobs ", "dim"),
                             f"{snap.submitted} submitted  {snap.completed} completed  ",
                             (f"{snap.failed} failed", "red" if snap.failed else ""))
        replay = snap.replay
        if replay is None:
            line.append("   no replay", style="dim")
        else:
            line.append("   replay ", style="dim")
            line.append(f"{replay.trace} {replay.submitted}/{replay.total} ")
            line.append(replay.state,
                        style="bold green" if replay.state == "running" else "bold yellow")
            line.append(f" x{replay.speed:g}")
        return line

    def _notice(self, snap: ConsoleSnapshot) -> Text:
        parts = []
        if self.read_only:
            parts.append(("READ-ONLY: writes are disabled", "bold black on yellow"))
        if snap.notice:
            parts.append((("  " if parts else "") + snap.notice, "yellow"))
        return Text.assemble(*parts)
