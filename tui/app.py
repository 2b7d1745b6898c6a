"""The operator console: charts, machines, components and the keys that drive a running
system through a :class:`~imgproc.tui.model.ConsoleBackend`.

The backend may block (the live one talks to RabbitMQ and ZooKeeper), so the
app never calls it on its own thread: every call runs in a thread worker, one
at a time under a lock, and hands its answer back with ``call_from_thread``.
A refresh (tick, then snapshot) runs every ``refresh_s`` seconds and is
skipped while the previous one is still running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Footer

from imgproc.core.policies import policy_specs
from imgproc.tui.model import ConsoleBackend, ConsoleSnapshot
from imgproc.tui.widgets.browser import TreeBrowser
from imgproc.tui.widgets.chart import LineChart
from imgproc.tui.widgets.components import ComponentPanel
from imgproc.tui.widgets.dialogs import QuitScreen, ReplayScreen
from imgproc.tui.widgets.help import HelpScreen, describe
from imgproc.tui.widgets.machines import MachinesTable
from imgproc.tui.widgets.palette import PolicyCommands
from imgproc.tui.widgets.status import StatusBar

SPEEDS = (0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
MAX_WALL_STEP_S = 5.0
COMPONENTS = ("deployer", "scaler")


def next_speed(speed: float, faster: bool) -> float:
    """The next speed up or down the ladder ``SPEEDS``."""
    if faster:
        return next((s for s in SPEEDS if s > speed), SPEEDS[-1])
    return next((s for s in reversed(SPEEDS) if s < speed), SPEEDS[0])


class ConsoleApp(App[None]):
    """The console; ``refresh_s=None`` leaves refreshing to the caller (tests, benchmarks)."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "imgproc console"
    COMMANDS = App.COMMANDS | {PolicyCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(i), f"policy({i})", f"Switch policy to {spec.name}", show=False)
          for i, spec in enumerate(policy_specs(), start=1)),
        Binding("plus", "workers(1)", "+1 worker"),
        Binding("minus", "workers(-1)", "-1 worker"),
        Binding("r", "replay", "Replay"),
        Binding("p", "pause", "Pause/resume"),
        Binding("s", "stop", "Stop replay"),
        Binding("left_square_bracket", "speed(False)", "Slower"),
        Binding("right_square_bracket", "speed(True)", "Faster"),
        Binding("c", "next_component", "Component panel", show=False),
        Binding("z", "browse", "ZooKeeper"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    snapshot: reactive[ConsoleSnapshot | None] = reactive(None)
    read_only: reactive[bool] = reactive(False)

    def __init__(self, backend: ConsoleBackend, *, read_only: bool = False,
                 workloads: Path = Path("workloads"), refresh_s: float | None = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.backend = backend
        self.workloads = workloads
        self.refresh_s = refresh_s
        self.clock = clock
        self.set_reactive(ConsoleApp.read_only, read_only)
        self._lock = threading.Lock()
        self._last_tick = clock()
        self.polling = False
        self._speed = 1.0
        self._browser: TreeBrowser | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status").data_bind(ConsoleApp.snapshot, ConsoleApp.read_only)
        with Grid(id="charts"):
            yield LineChart("queue", ("ready", "in flight"), ("cyan", "magenta"), id="chart-queue")
            yield LineChart("jobs/s", ("arrivals", "completions"), ("yellow", "green"),
                            id="chart-rates")
            yield LineChart("machines", ("starting", "running", "draining"),
                            ("yellow", "green", "magenta"), id="chart-machines")
            yield LineChart("response time, s", ("p50", "p95"), ("cyan", "yellow"),
                            id="chart-response")
        with Horizontal(id="bottom"):
            yield MachinesTable(id="machines").data_bind(ConsoleApp.snapshot)
            with Vertical(id="components"):
                for name in COMPONENTS:
                    panel = ComponentPanel(name, id=f"component-{name}")
                    yield panel.data_bind(ConsoleApp.snapshot)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(MachinesTable).focus()
        self.poll()
        if self.refresh_s:
            self.set_interval(self.refresh_s, self.poll)

    # ---- talking to the backend ----------------------------------------------

    def call_backend(self, fn: Callable[..., Any], *args: Any,
                     done: Callable[[Any], None] | None = None, fresh: bool = True) -> None:
        """Run ``fn(*args)`` off the UI thread, then on it ``done(result)`` and, if ``fresh``,
        show a snapshot taken right after the call."""
        self._backend_worker(fn, args, done, fresh)

    @work(thread=True, group="backend")
    def _backend_worker(self, fn: Callable[..., Any], args: tuple, done, fresh: bool) -> None:
        try:
            with self._lock:
                result = fn(*args)
                snap = self.backend.snapshot() if fresh else None
        except Exception as exc:  # noqa: BLE001 - a failed call is reported, the console goes on
            self.call_from_thread(self.notify, str(exc) or type(exc).__name__, severity="error")
            return
        self.call_from_thread(self._answered, done, result, snap)

    def _answered(self, done, result, snap: ConsoleSnapshot | None) -> None:
        if snap is not None:
            self.snapshot = snap
        if done is not None:
            done(result)

    def poll(self) -> None:
        """Advance the backend by the wall time since the last poll and take a snapshot."""
        if not self.polling:
            self.polling = True
            self._poll_worker()

    @work(thread=True, group="poll")
    def _poll_worker(self) -> None:
        try:
            with self._lock:
                now = self.clock()
                self.backend.tick(min(now - self._last_tick, MAX_WALL_STEP_S))
                self._last_tick = now
                snap = self.backend.snapshot()
        except Exception as exc:  # noqa: BLE001 - the next refresh tries again
            self.call_from_thread(self._polled, None, f"refresh failed: {exc}")
            return
        self.call_from_thread(self._polled, snap, None)

    def _polled(self, snap: ConsoleSnapshot | None, error: str | None) -> None:
        self.polling = False
        if snap is not None:
            self.snapshot = snap
        if error:
            self.notify(error, severity="error")

    def watch_snapshot(self, snap: ConsoleSnapshot | None) -> None:
        if snap is None:
            return
        if snap.replay is not None:
            self._speed = snap.replay.speed
        counts = snap.machine_counts
        self.query_one("#chart-queue", LineChart).add(snap.now, (snap.ready, snap.in_flight))
        rates = (snap.arrival_rate, snap.completion_rate)
        self.query_one("#chart-rates", LineChart).add(snap.now, rates)
        self.query_one("#chart-machines", LineChart).add(snap.now, (
            counts.get("preparing", 0) + counts.get("booting", 0), counts.get("running", 0),
            counts.get("draining", 0) + counts.get("destroying", 0)))
        response = self.query_one("#chart-response", LineChart)
        response.set_level("objective", snap.slo_s)
        response.add(snap.now, (snap.response_p50_s, snap.response_p95_s))

    def writable(self, what: str) -> bool:
        """False, with a notice, when the console is read-only."""
        if self.read_only:
            self.notify(f"read-only: {what} is disabled", severity="warning")
        return not self.read_only

    # ---- actions -------------------------------------------------------------

    def switch_policy(self, name: str) -> None:
        if self.writable("switching policy"):
            self.call_backend(self.backend.set_policy, name,
                              done=lambda _: self.notify(f"policy: {name}", timeout=3))

    def action_policy(self, number: int) -> None:
        specs = policy_specs()
        if 1 <= number <= len(specs):
            self.switch_policy(specs[number - 1].name)

    def action_workers(self, delta: int) -> None:
        if self.writable("changing the number of workers"):
            self.call_backend(self.backend.adjust_workers, delta,
                              done=lambda message: self.notify(message, timeout=4))

    def action_replay(self) -> None:
        if not self.writable("starting a replay"):
            return
        traces = sorted(self.workloads.glob("*.jsonl"))

        def chosen(answer: tuple[Path, float] | None) -> None:
            if answer is not None:
                trace, speed = answer
                self.call_backend(self.backend.start_replay, trace, speed,
                                  done=lambda _: self.notify(
                                      f"replaying {trace.name} at x{speed:g}", timeout=3))

        self.push_screen(ReplayScreen(traces, self._speed), chosen)

    def action_pause(self) -> None:
        if self.writable("pausing the replay"):
            self.call_backend(self.backend.pause_replay)

    def action_stop(self) -> None:
        if self.writable("stopping the replay"):
            self.call_backend(self.backend.stop_replay)

    def action_speed(self, faster: bool) -> None:
        speed = next_speed(self._speed, faster)
        self._speed = speed
        self.call_backend(self.backend.set_speed, speed)

    def action_next_component(self) -> None:
        panels = list(self.query(ComponentPanel))
        current = self.focused
        index = panels.index(current) + 1 if current in panels else 0
        panels[index % len(panels)].focus()

    @on(ComponentPanel.ActionRequested)
    def component_action(self, event: ComponentPanel.ActionRequested) -> None:
        if self.writable(f"{event.action} of the {event.name}"):
            self.call_backend(self.backend.component, event.name, event.action,
                              done=lambda state: self.notify(f"{event.name}: {state}", timeout=4))

    def action_browse(self) -> None:
        if self._browser is not None:
            if self.screen is not self._browser:
                self.push_screen(self._browser)
            return
        self.call_backend(self.backend.tree, done=self._open_browser, fresh=False)

    def _open_browser(self, source) -> None:
        if self._browser is None:
            self._browser = TreeBrowser(source, read_only=self.read_only)
            self.install_screen(self._browser, name="zookeeper")
        self.push_screen(self._browser)

    @on(TreeBrowser.DeleteConfirmed)
    def delete_node(self, event: TreeBrowser.DeleteConfirmed) -> None:
        if self.writable("deleting nodes") and self._browser is not None:
            self.call_backend(self._browser.source.delete, event.path,
                              done=lambda _: self.notify(f"deleted {event.path}", timeout=3))

    def action_help(self) -> None:
        display = self.get_key_display
        sections = [
            ("Main screen", [*describe(self.BINDINGS, display),
                             ("ctrl+p", "Command palette (Switch policy to ...)")]),
            ("Component panel (focused; c or tab to reach)",
             describe(ComponentPanel.BINDINGS, display)),
            ("ZooKeeper browser", [*describe(TreeBrowser.BINDINGS, display),
                                   ("enter space", "Expand or collapse"), ("up down", "Move")]),
            ("Dialogs", [("y n", "Confirm: yes, no"), ("d l", "Quit: destroy machines, leave them"),
                         ("escape", "Cancel or close")]),
        ]
        self.push_screen(HelpScreen(sections))

    async def action_quit(self) -> None:
        self.call_backend(self.backend.running_machines, done=self._confirm_quit, fresh=False)

    def _confirm_quit(self, running: int) -> None:
        if running == 0:
            self._shut_down(False)
            return

        def answered(choice: str | None) -> None:
            if choice is not None:
                self._shut_down(choice == "destroy")

        self.push_screen(QuitScreen(running, can_destroy=not self.read_only), answered)

    def _shut_down(self, destroy: bool) -> None:
        self.notify("closing: destroying machines..." if destroy else "closing...", timeout=30)
        self.call_backend(self.backend.close, destroy, done=lambda _: self.exit(), fresh=False)
