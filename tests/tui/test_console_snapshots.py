"""Screenshots of the console at a fixed size and a fixed virtual time.

The app never refreshes by itself here (``refresh_s=None``): each test steps
it on a manual clock, so what is drawn depends on virtual time only. Update
the baselines with ``pytest tests/tui --snapshot-update`` and look at them.
"""

from __future__ import annotations

from tui_helpers import SIZE, make_app, step, wait_for

from imgproc.tui.widgets.browser import TreeBrowser
from imgproc.tui.widgets.help import HelpScreen

STEPS = 24  # refreshes one wall second apart: 8 virtual minutes at x20


async def run_for_a_while(pilot) -> None:
    await step(pilot, 1.0, times=STEPS)


def test_main_screen(snap_compare, settings):
    assert snap_compare(make_app(settings), terminal_size=SIZE, run_before=run_for_a_while)


def test_zookeeper_browser(snap_compare, settings):
    async def browse(pilot) -> None:
        await run_for_a_while(pilot)
        await pilot.press("z")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TreeBrowser))
        browser = pilot.app.screen
        browser.reveal("/imgproc/machines/sim-0001")
        await wait_for(pilot, lambda: browser.selected_path() == "/imgproc/machines/sim-0001")

    assert snap_compare(make_app(settings), terminal_size=SIZE, run_before=browse)


def test_help_screen(snap_compare, settings):
    async def help_(pilot) -> None:
        await run_for_a_while(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))

    assert snap_compare(make_app(settings), terminal_size=SIZE, run_before=help_)
