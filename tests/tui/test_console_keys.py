"""Every key of the main screen, driven through Pilot against the simulator backend."""

from __future__ import annotations

import pytest
from textual.widgets import Input, OptionList
from tui_helpers import SIZE, make_app, rendered, status_text, step, toasts, wait_for

from imgproc.core.policies import policy_names
from imgproc.tui.widgets.components import ComponentPanel
from imgproc.tui.widgets.dialogs import QuitScreen, ReplayScreen
from imgproc.tui.widgets.help import HelpScreen
from imgproc.tui.widgets.machines import MachinesTable

pytestmark = pytest.mark.asyncio


async def test_number_keys_switch_policy_in_listing_order(settings):
    app = make_app(settings, seconds=2)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        for key, name in (("1", policy_names()[0]), ("4", policy_names()[3]),
                          ("7", policy_names()[6])):
            await pilot.press(key)
            await wait_for(pilot, lambda name=name: f"policy {name} " in status_text(app),
                           what=name)
            assert app.backend.run.sim.scaler.policy.name == name
        assert "applied at 40s" in status_text(app)


def offered(app) -> list[str]:
    """The commands the palette shows, best first."""
    lists = app.screen.query(OptionList)
    if not lists:
        return []
    hits = lists.first()
    return [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]


def first_hit(app) -> str:
    return next(iter(offered(app)), "")


async def test_the_command_palette_offers_every_policy_switch(settings):
    app = make_app(settings, seconds=1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        everything = [f"Switch policy to {name}" for name in policy_names()]
        await wait_for(pilot, lambda: all(any(c in o for o in offered(app)) for c in everything),
                       what="every policy in the palette")
        await pilot.press(*"queuerate")
        await wait_for(pilot, lambda: "Switch policy to queuerate" in first_hit(app),
                       what="the hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.backend.policy == "queuerate", what="the switch")
        await wait_for(pilot, lambda: "policy queuerate" in status_text(app))


async def test_plus_and_minus_add_and_release_a_worker(settings):
    app = make_app(settings, seconds=3)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        table = app.query_one(MachinesTable)
        before = table.row_count
        await pilot.press("plus")
        await wait_for(pilot, lambda: table.row_count == before + 1, what="a new row")
        await wait_for(pilot, lambda: "asked for sim-" in toasts(app))
        newest = app.snapshot.machines[-1].id
        assert table.get_cell(newest, "state") == "booting"
        await pilot.press("minus")
        await wait_for(pilot, lambda: f"releasing {newest}" in toasts(app))
        await wait_for(pilot, lambda: table.get_cell(newest, "state") == "destroying")


async def test_a_replay_is_chosen_in_a_modal_then_paused_resumed_and_stopped(settings):
    app = make_app(settings, seconds=1)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen))
        options = app.screen.query_one(OptionList)
        names = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert "thumbnails.jsonl" in names and "burst.jsonl" in names
        options.highlighted = names.index("thumbnails.jsonl")
        app.screen.query_one(Input).value = "5"
        await pilot.click("#start")
        await wait_for(pilot, lambda: "replay thumbnails 0/60 running x5" in status_text(app))
        await pilot.press("p")
        await wait_for(pilot,
                       lambda: "running" not in status_text(app) and "paused" in status_text(app))
        await step(pilot, 1.0)
        assert app.snapshot.now == 0.0
        await pilot.press("p")
        await wait_for(pilot, lambda: "thumbnails 0/60 running" in status_text(app))
        await step(pilot, 1.0)
        assert app.snapshot.now == 5.0
        await pilot.press("s")
        await wait_for(pilot, lambda: "stopped x5" in status_text(app))


async def test_the_replay_modal_can_be_cancelled(settings):
    app = make_app(settings, seconds=1)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ReplayScreen))
        assert app.backend.run.name == "burst"


async def test_brackets_make_the_simulation_slower_and_faster(settings):
    app = make_app(settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: "x20" in status_text(app))
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "x50" in status_text(app))
        await step(pilot, 1.0)
        assert app.snapshot.now == 50.0
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_for(pilot, lambda: "x10" in status_text(app))


async def test_help_lists_every_key(settings):
    app = make_app(settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = "\n".join(rendered(s.content) for s in app.screen.query("Static"))
        for name in policy_names():
            assert f"Switch policy to {name}" in text
        for what in ("+1 worker", "-1 worker", "Replay", "Pause/resume", "Stop replay", "Slower",
                     "Faster", "ZooKeeper", "Quit", "Search paths", "Delete node", "Restart"):
            assert what in text, what
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_component_keys_report_that_the_simulator_has_no_child_processes(settings):
    app = make_app(settings, seconds=1)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.focused, ComponentPanel))
        assert app.focused.component == "deployer"
        await pilot.press("c")
        assert app.focused.component == "scaler"
        await pilot.press("e")
        await wait_for(pilot, lambda: "no child processes" in toasts(app))


async def test_read_only_blocks_every_write_with_a_notice(settings):
    app = make_app(settings, seconds=1, read_only=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: "READ-ONLY" in status_text(app))
        machines = app.backend.running_machines()
        for key in ("3", "plus", "minus", "r", "p", "s"):
            await pilot.press(key)
        await pilot.press("c", "t")
        await wait_for(pilot, lambda: toasts(app).count("read-only") == 7, what="seven notices")
        await step(pilot, 0.0)
        assert app.backend.policy == "slo" and app.backend.run.state == "running"
        assert app.backend.running_machines() == machines
        assert not isinstance(app.screen, ReplayScreen)


async def test_quit_asks_when_machines_run_and_can_be_cancelled(settings):
    app = make_app(settings, seconds=2)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
        assert app.screen.machines == app.backend.running_machines() > 0
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, QuitScreen))
        assert app.is_running


async def test_quit_destroying_machines_closes_the_backend(settings):
    app = make_app(settings, seconds=2)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("d")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    assert app.backend.run.state == "stopped"
    assert {m.state.value for m in app.backend.run.sim.machines()} <= {"destroying", "draining"}


async def test_quit_without_machines_does_not_ask(settings):
    app = make_app(settings, seconds=0)
    app.backend.run = None
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
