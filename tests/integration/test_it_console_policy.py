"""The console on the real services: switching policy by key reaches the scaler subprocess,
which applies it within an interval, and the console shows when it did."""

from __future__ import annotations

import pytest
from polling import wait_for_async

from imgproc.adapters.zk.config import ZkScalerStatus
from imgproc.bootstrap.live import build_live_console
from imgproc.core.policies import policy_names
from imgproc.settings import Settings
from imgproc.tui.app import ConsoleApp
from imgproc.tui.live_backend import LiveBackend

pytestmark = [pytest.mark.services, pytest.mark.asyncio]


def status_text(app: ConsoleApp) -> str:
    from imgproc.tui.widgets.status import StatusBar

    return str(app.query_one(StatusBar).render())


async def test_a_number_key_switches_the_live_scalers_policy(rig, tmp_path):
    settings = Settings(rabbit=rig.rabbit, zk=rig.zk, policy="constantsize",
                        policy_params={"size": 1}, scaler={"interval_s": 0.5},
                        provider={"state_dir": rig.state_dir})
    backend = build_live_console(settings)
    try:
        await _switch_policy_by_key(rig, backend, tmp_path)
    finally:
        backend.close(destroy_machines=True)
    assert rig.registry.machines() == []


async def _switch_policy_by_key(rig, backend: LiveBackend, tmp_path) -> None:
    app = ConsoleApp(backend, workloads=tmp_path, refresh_s=0.5)
    status = ZkScalerStatus(rig.client, rig.zk.root)
    wanted = policy_names()[1]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_async(
            lambda: (s := status.read()) is not None and s.policy == "constantsize",
            "the scaler subprocess to lead with constantsize", 30, 0.1, sleep=pilot.pause)
        before = status.read().applied_at
        await pilot.press("2")
        await wait_for_async(lambda: status.read().policy == wanted,
                             f"the scaler subprocess to apply {wanted}", 15, 0.1,
                             sleep=pilot.pause)
        assert status.read().applied_at > before
        await wait_for_async(lambda: f"policy {wanted} " in status_text(app)
                             and "applied at start" not in status_text(app),
                             "the console to show the applied policy", 15, 0.1,
                             sleep=pilot.pause)
        app.exit()
