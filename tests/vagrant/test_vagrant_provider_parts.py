"""The Vagrant provider's parts that need no VM: the worker's settings as a guest
sees them, the environment file, the relay to loopback-only services, wheels, the
machine ids it accepts, and what it does when Vagrant fails or takes too long."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from imgproc.adapters.providers.environment import environment_file
from imgproc.adapters.providers.vagrant import BoxInfo, VagrantProvider
from imgproc.adapters.providers.vagrant import provider as vagrant_provider_module
from imgproc.adapters.providers.vagrant.command import (
    CommandTimeout,
    make_vagrant,
    pid_file,
    stop_leftover_command,
)
from imgproc.adapters.providers.vagrant.guest import (
    FleetCredentials,
    guest_settings,
    reach_from_guests,
)
from imgproc.adapters.providers.vagrant.libvirt import network_xml
from imgproc.adapters.providers.vagrant.relay import TcpRelay
from imgproc.adapters.providers.vagrant.wheels import build_wheels, source_hash
from imgproc.adapters.secrets import write_private
from imgproc.core.errors import ProviderError

ROOT = Path(__file__).resolve().parents[2]


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_a_loopback_only_service_is_relayed_on_the_gateway_address():
    server, port = _echo_server()
    relays: list[TcpRelay] = []
    try:
        host, relayed_port = reach_from_guests("127.0.0.1", port, "127.0.0.2", relays)
        assert (host, relayed_port) == ("127.0.0.2", port)
        assert len(relays) == 1
        with socket.create_connection((host, relayed_port), timeout=5) as client:
            client.sendall(b"hello")
            assert client.recv(1024) == b"HELLO"
    finally:
        for relay in relays:
            relay.close()
        server.close()


def test_a_service_listening_everywhere_is_used_directly():
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen(1)
    port = server.getsockname()[1]
    relays: list[TcpRelay] = []
    try:
        assert reach_from_guests("127.0.0.1", port, "127.0.0.3", relays) == ("127.0.0.3", port)
        assert relays == []
    finally:
        server.close()


def test_a_service_on_another_host_is_left_alone():
    assert reach_from_guests("10.1.2.3", 5672, "192.168.121.1", []) == ("10.1.2.3", 5672)


FLEET = FleetCredentials("imgproc-fleet", "f@st/1", "imgproc-fleet", "s3-f")


def _as_guests_see(make_settings) -> tuple[dict, dict, int]:
    """The guests' settings for the host's ``make_settings(port)``, a local echo server
    standing for the services at that port; relays closed after."""
    server, port = _echo_server()
    relays: list[TcpRelay] = []
    settings = make_settings(port)
    try:
        return settings, guest_settings(settings, "127.0.0.4", relays, FLEET), port
    finally:
        for relay in relays:
            relay.close()
        server.close()


def test_guest_settings_point_the_worker_at_the_gateway_and_keep_everything_else():
    settings, guest, port = _as_guests_see(lambda port: {
        "policy": "slo", "backend": "live", "provider": {"state_dir": "/x"},
        "rabbit": {"url": f"amqp://guest:p%40ss@127.0.0.1:{port}/%2F", "jobs_queue": "q1"},
        "zk": {"hosts": f"localhost:{port}", "root": "/imgproc-t"}})
    assert guest["rabbit"]["url"] == f"amqp://imgproc-fleet:f%40st%2F1@127.0.0.4:{port}/%2F"
    assert guest["rabbit"]["jobs_queue"] == "q1"
    assert guest["zk"] == {"hosts": f"127.0.0.4:{port}", "root": "/imgproc-t"}
    assert "provider" not in guest and "backend" not in guest
    assert settings["rabbit"]["url"].startswith("amqp://guest:p%40ss@127.0.0.1")  # not modified


def test_guests_reach_the_object_store_through_a_relay_with_the_fleets_identity():
    settings, guest, port = _as_guests_see(lambda port: {
        "rabbit": {"url": f"amqp://guest:guest@127.0.0.1:{port}/%2F",
                   "url_file": "/host/only/url"},
        "storage": {"endpoint_url": f"http://127.0.0.1:{port}", "bucket": "imgproc",
                    "secret_access_key_file": "/var/lib/imgproc/storage/secret-access-key"}})
    assert guest["storage"] == {"endpoint_url": f"http://127.0.0.4:{port}", "bucket": "imgproc",
                                "access_key_id": "imgproc-fleet", "secret_access_key": "s3-f"}
    assert "url_file" not in guest["rabbit"] and "guest:" not in guest["rabbit"]["url"]
    assert "secret_access_key" not in settings["storage"]  # the host's are left as they were


def test_fleet_credentials_are_read_from_their_files_and_refused_when_missing(tmp_path):
    with pytest.raises(ProviderError, match="no credentials for the worker VMs"):
        FleetCredentials.from_dir(tmp_path)
    for name, secret in (("rabbit-password", "r-1"), ("s3-secret-access-key", "s-1")):
        (tmp_path / name).write_text(secret)
        (tmp_path / name).chmod(0o600)
    assert FleetCredentials.from_dir(tmp_path) == FleetCredentials(
        "imgproc-fleet", "r-1", "imgproc-fleet", "s-1")


def test_the_guests_environment_file_is_written_for_its_owner_only(tmp_path):
    path = tmp_path / "imgproc.env"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "IMGPROC_X=1\n")
    assert path.read_text() == "IMGPROC_X=1\n" and (path.stat().st_mode & 0o777) == 0o600


def test_guest_settings_keep_the_zookeeper_chroot():
    _, guest, port = _as_guests_see(lambda port: {"zk": {"hosts": f"127.0.0.1:{port}/team-a"}})
    assert guest["zk"]["hosts"] == f"127.0.0.4:{port}/team-a"


def test_the_environment_file_reads_back_exactly_in_a_shell():
    settings = {"policy": "slo", "policy_params": {"quote": 'a"b', "dollar": "$HOME", "tick": "`x`",
                                                   "slash": "c\\d"}, "slo_s": 2.0, "none": None}
    text = environment_file(settings, "test")
    assert "IMGPROC_NONE" not in text
    script = 'set -a; . /dev/stdin; printf "%s" "$IMGPROC_POLICY_PARAMS"'
    done = subprocess.run(["bash", "-c", script], input=text, capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout) == settings["policy_params"]


def test_network_definition_matches_what_vagrant_libvirt_would_make():
    xml = network_xml("vagrant-libvirt", "192.168.121.0/24")
    assert "<forward mode='nat'/>" in xml
    assert "address='192.168.121.1' netmask='255.255.255.0'" in xml
    assert "start='192.168.121.2' end='192.168.121.254'" in xml


def test_wheels_are_built_once_per_source_state(tmp_path):
    source = tmp_path / "src"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "__init__.py").write_text("x = 1\n")
    (source / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        out = Path(command[command.index("-w") + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "x-1-py3-none-any.whl").write_text("")
        return subprocess.CompletedProcess(command, 0, "", "")

    wheels = tmp_path / "wheels"
    build_wheels(source, wheels, run=fake_run)
    build_wheels(source, wheels, run=fake_run)
    assert len(calls) == 1 and (wheels / "x-1-py3-none-any.whl").exists()
    (source / "pkg" / "__init__.py").write_text("x = 2\n")
    build_wheels(source, wheels, run=fake_run)
    assert len(calls) == 2


def test_the_source_hash_ignores_what_is_not_in_the_wheel(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text("")
    before = source_hash(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    assert source_hash(tmp_path) == before


@pytest.mark.parametrize("bad", ["Worker-1", "worker_1", "-w", "w" * 64, "a/b", ""])
def test_machine_ids_that_cannot_be_host_names_are_refused(tmp_path, bad):
    provider = VagrantProvider(tmp_path, {}, box=BoxInfo("b"))
    with pytest.raises(ProviderError, match="host name"):
        provider.start(bad)


class _FakeVagrant:
    """Stands in for the timed python-vagrant object: fails or sleeps on `up`."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.fail_with = fail_with
        self.timeout_s = None

    def up(self, provider=None):
        if self.fail_with:
            raise self.fail_with

    def hostname(self):
        return "192.168.121.50"


def _provider(tmp_path, monkeypatch, fake, **kwargs) -> VagrantProvider:
    provider = VagrantProvider(tmp_path, {}, source_dir=ROOT, box=BoxInfo("b"),
                               vagrant_factory=lambda run, env, log: fake, **kwargs)
    monkeypatch.setattr(provider, "_prepare", lambda: (BoxInfo("b"), ""))
    # No VM exists: what alive() reports is what is being started (fake libvirt: no VM here)
    monkeypatch.setattr(vagrant_provider_module, "our_domains", lambda **_kw: set())
    return provider


def test_start_returns_the_guest_address(tmp_path, monkeypatch):
    provider = _provider(tmp_path, monkeypatch, _FakeVagrant())
    assert provider.start("worker-1") == "192.168.121.50"
    assert provider.timings["worker-1"]["up_s"] >= 0


def test_a_failed_up_raises_with_the_tail_of_vagrants_output(tmp_path, monkeypatch):
    fake = _FakeVagrant(subprocess.CalledProcessError(1, ["vagrant", "up"]))
    provider = _provider(tmp_path, monkeypatch, fake)
    run = provider.run_dir("worker-2")
    run.mkdir(parents=True)
    (run / "vagrant.log").write_text("==> booting\nAn error occurred: the domain could not start\n")
    with pytest.raises(ProviderError, match="domain could not start"):
        provider.start("worker-2")
    assert "worker-2" not in provider.alive()


def test_an_up_that_times_out_raises(tmp_path, monkeypatch):
    fake = _FakeVagrant(CommandTimeout("vagrant up took more than 5 s"))
    provider = _provider(tmp_path, monkeypatch, fake)
    with pytest.raises(ProviderError, match="took more than 5 s"):
        provider.start("worker-3")


def test_no_more_than_max_booting_vms_boot_at_once(tmp_path, monkeypatch):
    active, peak, lock = [0], [0], threading.Lock()
    release = threading.Event()

    class Slow(_FakeVagrant):
        def up(self, provider=None):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            release.wait(5)
            with lock:
                active[0] -= 1

    provider = _provider(tmp_path, monkeypatch, Slow(), max_booting=2)
    threads = [threading.Thread(target=provider.start, args=(f"worker-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    threading.Event().wait(0.5)
    assert active[0] == 2
    assert provider.alive() == {f"worker-{i}" for i in range(4)}
    release.set()
    for t in threads:
        t.join(10)
    assert peak[0] == 2


def _fake_vagrant(tmp_path: Path) -> Path:
    """A `vagrant` that starts a child (as Vagrant starts ssh and rsync), notes the
    child's pid in `child.pid`, and waits."""
    script = tmp_path / "vagrant"
    script.write_text("#!/bin/sh\nsleep 300 &\necho $! > \"$(dirname \"$0\")/child.pid\"\nwait\n")
    script.chmod(0o755)
    return script


def _child_pid(tmp_path: Path) -> int:
    deadline = time.monotonic() + 10
    child_pid = tmp_path / "child.pid"
    while not child_pid.is_file() or not child_pid.read_text().strip():
        assert time.monotonic() < deadline, "the fake vagrant never started its child"
        time.sleep(0.05)
    return int((tmp_path / "child.pid").read_text())


def _gone(pid: int, within_s: float = 0.0) -> bool:
    """Whether the process has ended (a signal takes a moment to land)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            ended = psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            ended = True
        if ended or time.monotonic() >= deadline:
            return ended
        time.sleep(0.05)


def test_the_timed_vagrant_interrupts_a_command_that_runs_too_long_and_all_its_children(tmp_path):
    v = make_vagrant(tmp_path, {"PATH": "/usr/bin:/bin"}, tmp_path / "log")
    v._vagrant_exe = str(_fake_vagrant(tmp_path))
    v.timeout_s = 2
    with pytest.raises(CommandTimeout):
        v.up()
    assert _gone(_child_pid(tmp_path), within_s=5)
    assert not pid_file(tmp_path).exists()


def test_a_vagrant_command_left_by_a_dead_deployer_is_stopped_with_its_children(tmp_path):
    proc = subprocess.Popen([str(_fake_vagrant(tmp_path))], start_new_session=True)
    pid_file(tmp_path).write_text(f"{proc.pid}\n")
    try:
        child = _child_pid(tmp_path)
        assert not _gone(child)
        assert stop_leftover_command(tmp_path, grace_s=5)
        proc.wait(5)
        assert _gone(child, within_s=5)
        assert not pid_file(tmp_path).exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_pid_file_naming_some_other_process_is_left_alone(tmp_path):
    pid_file(tmp_path).write_text(f"{os.getpid()}\n")
    assert not stop_leftover_command(tmp_path)
    assert not pid_file(tmp_path).exists()


def test_the_source_hash_follows_package_data_and_not_bytecode(tmp_path):
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "local.json").write_text('{"start_s": 0.2}')
    (tmp_path / "pyproject.toml").write_text("")
    before = source_hash(tmp_path)
    (tmp_path / "pkg" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0")
    assert source_hash(tmp_path) == before
    (tmp_path / "pkg" / "local.json").write_text('{"start_s": 0.3}')
    assert source_hash(tmp_path) != before

