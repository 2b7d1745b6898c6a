"""``imgproc-tui`` without ``--replay``: which backend the console opens, and with what notice."""

from __future__ import annotations

import os
import socket

import pytest
from click.testing import CliRunner
from tui_helpers import REPO

import imgproc.bootstrap.console as console
import imgproc.bootstrap.live as live
import imgproc.tui.main as tui_main
from imgproc.adapters.zk.client import RegistryUnavailable
from imgproc.settings import Settings
from imgproc.tui.app import ConsoleApp


@pytest.fixture
def opened(monkeypatch):
    """The console's ``run`` replaced: records the app instead of taking the terminal."""
    apps: list[ConsoleApp] = []
    monkeypatch.setattr(ConsoleApp, "run", lambda self: apps.append(self))
    monkeypatch.chdir(REPO)
    for name in [n for n in os.environ if n.startswith("IMGPROC_")]:
        monkeypatch.delenv(name)
    return apps


def failing_live(settings, start_components=True):
    raise RegistryUnavailable("connect to ZooKeeper", "refused")


def test_the_service_addresses_come_from_the_broker_url_and_the_zookeeper_hosts():
    settings = Settings(_env_file=None, rabbit={"url": "amqp://u:p@rabbit:5673/%2F"},
                        zk={"hosts": "zk1:2181,zk2,[::1]:2182/chroot"})
    assert console.service_addresses(settings) == [("rabbit", 5673), ("zk1", 2181), ("zk2", 2181),
                                                    ("::1", 2182)]


def test_a_closed_port_is_not_reachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert not console.reachable(("127.0.0.1", port), timeout_s=0.2)


def test_with_no_service_reachable_the_console_runs_the_default_trace_on_the_simulator(
        opened, monkeypatch):
    monkeypatch.setattr(console, "reachable", lambda address, timeout_s=0.5: False)
    result = CliRunner().invoke(tui_main.main, [])
    assert result.exit_code == 0, result.output
    (app,) = opened
    snap = app.backend.snapshot()
    assert app.backend.kind == "sim" and snap.replay.trace == "burst"
    assert snap.notice == console.NO_SERVICE and not app.read_only


def test_backend_sim_with_a_trace_and_read_only(opened):
    result = CliRunner().invoke(tui_main.main, ["--backend", "sim", "--trace",
                                                "workloads/thumbnails.jsonl", "--read-only"])
    assert result.exit_code == 0, result.output
    (app,) = opened
    assert app.backend.snapshot().replay.trace == "thumbnails" and app.read_only
    assert app.backend.snapshot().notice is None


def test_backend_live_that_cannot_connect_is_an_error(opened, monkeypatch):
    monkeypatch.setattr(live, "build_live_console", failing_live)
    result = CliRunner().invoke(tui_main.main, ["--backend", "live"])
    assert result.exit_code == 1 and "live services: cannot connect to ZooKeeper" in result.output
    assert opened == []


def test_services_that_answer_but_fail_leave_the_console_on_the_simulator(opened, monkeypatch):
    monkeypatch.setattr(console, "reachable", lambda address, timeout_s=0.5: True)
    monkeypatch.setattr(live, "build_live_console", failing_live)
    result = CliRunner().invoke(tui_main.main, [])
    assert result.exit_code == 0, result.output
    (app,) = opened
    assert app.backend.kind == "sim"
    assert app.backend.snapshot().notice.startswith("live services failed (cannot connect")
