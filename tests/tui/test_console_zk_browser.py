"""The ZooKeeper browser on the simulator's in-memory tree, driven through Pilot."""

from __future__ import annotations

import pytest
from textual.widgets import Tree
from tui_helpers import SIZE, make_app, rendered, step, toasts, wait_for

from imgproc.tui.widgets.browser import TreeBrowser
from imgproc.tui.widgets.dialogs import ConfirmScreen
from imgproc.tui.widgets.search import SearchScreen

pytestmark = pytest.mark.asyncio


def detail(app) -> str:
    return rendered(app.screen.query_one("#zk-detail-text").content)


def labels(node) -> list[str]:
    return [str(child.label) for child in node.children]


async def open_browser(pilot) -> TreeBrowser:
    await pilot.press("z")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, TreeBrowser), what="the browser")
    return pilot.app.screen


async def test_the_root_opens_with_its_children_loaded(settings):
    app = make_app(settings, seconds=3)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        root = browser.query_one(Tree).root
        assert labels(root) == ["config", "machines", "scaler", "workers"]
        assert all(not child.data.loaded for child in root.children)
        assert "/imgproc" in detail(app) and "children 4" in detail(app)


async def test_expanding_loads_children_and_selecting_shows_data_and_stat(settings):
    app = make_app(settings, seconds=3)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        tree = browser.query_one(Tree)
        await pilot.press("down", "down", "enter")
        machines = browser.nodes["/imgproc/machines"]
        await wait_for(pilot, lambda: machines.is_expanded and machines.data.loaded)
        ids = sorted(row.id for row in app.backend.snapshot().machines)
        assert labels(machines) == ids
        await pilot.press("down")
        await wait_for(pilot, lambda: tree.cursor_node is machines.children[0])
        text = detail(app)
        assert f'"id": "{ids[0]}"' in text and "version" in text and "persistent" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TreeBrowser))


async def test_the_tree_follows_the_run_when_its_watch_fires(settings):
    cold = settings.model_copy(update={"sim": settings.sim.model_copy(
        update={"warm_start": False})})  # no worker yet: the first ones appear as it runs
    app = make_app(cold, seconds=1)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        root = browser.query_one(Tree).root
        assert "workers" not in labels(root)
        await step(pilot, 1.0, times=2)
        await wait_for(pilot, lambda: "workers" in labels(root), what="workers to appear")
        browser.reveal("/imgproc/workers")
        await wait_for(pilot, lambda: browser.selected_path() == "/imgproc/workers")
        await pilot.press("enter")
        workers = browser.nodes["/imgproc/workers"]
        await wait_for(pilot, lambda: workers.data.loaded)
        for _ in range(3):
            await step(pilot, 1.0)
            alive = sorted(r.id for r in app.backend.snapshot().machines
                           if r.state in ("running", "draining"))
            await wait_for(pilot, lambda alive=alive: labels(workers) == alive,
                           what="the workers to follow the run")


async def test_search_filters_paths_and_jumps_to_the_chosen_node(settings):
    app = make_app(settings, seconds=3)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press(*"workers sim")
        search = app.screen
        await wait_for(pilot, lambda: search.query_one("#results").option_count > 0)
        target = str(search.query_one("#results").get_option_at_index(1).prompt)
        assert target.startswith("/imgproc/workers/sim-")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: browser.selected_path() == target, what=target)
        assert browser.nodes["/imgproc/workers"].is_expanded
        assert "ephemeral, session 0x" in detail(app)


async def test_delete_asks_first_and_then_removes_the_node(settings):
    app = make_app(settings, seconds=3)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        browser = await open_browser(pilot)
        browser.reveal("/imgproc/config/scaler")
        await wait_for(pilot, lambda: browser.selected_path() == "/imgproc/config/scaler")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is browser)
        assert app.backend.tree().exists("/imgproc/config/scaler")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        config = browser.nodes["/imgproc/config"]
        await wait_for(pilot, lambda: labels(config) == [], what="the node to go")
        assert not app.backend.tree().exists("/imgproc/config/scaler")
        assert "deleted /imgproc/config/scaler" in toasts(app)


async def test_read_only_browser_refuses_to_delete(settings):
    app = make_app(settings, seconds=3, read_only=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        browser = await open_browser(pilot)
        assert "READ-ONLY" in str(browser.query_one("#zk-title").content)
        browser.reveal("/imgproc/config/scaler")
        await wait_for(pilot, lambda: browser.selected_path() == "/imgproc/config/scaler")
        await pilot.press("d")
        await wait_for(pilot, lambda: "read-only: deleting nodes is disabled" in toasts(app))
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.backend.tree().exists("/imgproc/config/scaler")
