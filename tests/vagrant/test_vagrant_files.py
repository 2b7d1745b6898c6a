"""The Vagrantfiles and the Puppet code are valid for the real tools: `vagrant validate`
on each Vagrantfile (the worker's as the provider renders it), `puppet parser validate`
and `puppet epp validate` on every file, and `puppet apply --noop` compiles both nodes.

The tools come from scripts/ensure-vagrant.sh, which the test command runs; without them
these tests fail rather than skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from imgproc.adapters.providers.vagrant import BoxInfo, VagrantProvider

ROOT = Path(__file__).resolve().parents[2]
PUPPET = ROOT / "puppet"
HOST_ONLY_ERRORS = (
    "Provider systemd is not functional on this host",  # no systemd on the test host
    "/proc/1/environ",                                   # facter in a sandbox
)


def _vagrant_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAGRANT_")}
    env.update(VAGRANT_CHECKPOINT_DISABLE="1", VAGRANT_NO_COLOR="1",
               VAGRANT_DEFAULT_PROVIDER="libvirt")
    return env


def _validate(directory: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["vagrant", "validate"], cwd=directory, env=_vagrant_env(tmp_path),
                          capture_output=True, text=True, timeout=120, check=False)


def _render_worker(tmp_path: Path) -> Path:
    provider = VagrantProvider(tmp_path / "state", {"zk": {"root": "/t"}}, source_dir=ROOT,
                               memory_mb=768, cpus=2, drain_timeout_s=45, up_timeout_s=420)
    box = BoxInfo("imgproc-bookworm-test", "/var/lib/libvirt/images/k", "/var/lib/libvirt/images/i",
                  "root=/dev/vda rw console=ttyS0")
    return provider.render("worker003", box, 'IMGPROC_POLICY="slo"\n')


def test_the_rendered_run_directory_holds_the_machine_and_its_settings_only(tmp_path):
    """The box is baked: no wheels nor Puppet code go to the guest, only its settings."""
    run = _render_worker(tmp_path)
    assert {p.name for p in run.iterdir()} == {"Vagrantfile", "machine.json", "imgproc.env"}
    assert (run / "imgproc.env").stat().st_mode & 0o777 == 0o600
    machine = json.loads((run / "machine.json").read_text())
    assert machine["fqdn"] == "worker003"
    assert (machine["memory_mb"], machine["cpus"], machine["type"]) == (768, 2, "worker")
    assert machine["box"] == "imgproc-bookworm-test"
    assert machine["libvirt"]["kernel"] == "/var/lib/libvirt/images/k"
    assert (machine["boot_timeout_s"], machine["drain_timeout_s"]) == (420, 45)
    assert machine["libvirt"]["cmd_line"] == "root=/dev/vda rw console=ttyS0 mitigations=off"


def test_on_kvm_the_guest_keeps_its_mitigations_and_no_drain_is_endless(tmp_path):
    provider = VagrantProvider(tmp_path / "state", {}, source_dir=ROOT, driver="kvm",
                               drain_timeout_s=0.2)
    box = BoxInfo("imgproc-bookworm-test", "/k", "/i", "root=/dev/vda rw")
    run = provider.render("worker004", box, 'IMGPROC_POLICY="slo"\n')
    machine = json.loads((run / "machine.json").read_text())
    assert machine["libvirt"]["cmd_line"] == "root=/dev/vda rw"
    assert machine["drain_timeout_s"] == 1  # systemd takes 0 for "never"


def test_vagrant_validates_the_rendered_worker_vagrantfile(tmp_path):
    run = _render_worker(tmp_path)
    done = _validate(run, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validated successfully" in done.stdout


def test_vagrant_validates_the_master_vagrantfile(tmp_path):
    master = tmp_path / "master"
    shutil.copytree(ROOT / "vagrant" / "master", master, ignore=shutil.ignore_patterns(".vagrant"))
    done = subprocess.run(["vagrant", "validate"], cwd=master,
                          env={**_vagrant_env(tmp_path), "IMGPROC_BOX": "imgproc-bookworm-test",
                               "IMGPROC_SOURCE": str(ROOT), "IMGPROC_RABBIT_PASSWORD": "test"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validated successfully" in done.stdout


def test_vagrant_rejects_a_broken_worker_vagrantfile(tmp_path):
    """The validation is real: a misspelt provider option fails it."""
    run = _render_worker(tmp_path)
    text = (run / "Vagrantfile").read_text().replace("libvirt.memory =", "libvirt.memroy =")
    (run / "Vagrantfile").write_text(text)
    assert _validate(run, tmp_path).returncode != 0


PUPPET_FILES = sorted(PUPPET.rglob("*.pp"))


def test_there_is_puppet_code_for_both_nodes():
    names = {p.relative_to(PUPPET).as_posix() for p in PUPPET_FILES}
    assert {"manifests/worker.pp", "manifests/master.pp", "modules/imgproc/manifests/init.pp",
            "modules/imgproc/manifests/worker.pp", "modules/imgproc/manifests/master.pp"} <= names


def test_puppet_parser_validates_every_manifest():
    done = subprocess.run(["puppet", "parser", "validate", *map(str, PUPPET_FILES)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_puppet_validates_every_template():
    templates = sorted(PUPPET.rglob("*.epp"))
    assert templates
    done = subprocess.run(["puppet", "epp", "validate", *map(str, templates)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_worker_unit_restarts_on_failure_and_drains_on_stop():
    params = ("{description => 'imgproc worker w1', exec_start => '/opt/imgproc/venv/bin/imgproc "
              "worker --machine-id w1', env_file => '/etc/imgproc/worker.env', user => 'imgproc', "
              "home => '/var/lib/imgproc', stop_timeout_s => 45, after => []}")
    done = subprocess.run(["puppet", "epp", "render", "--values", params,
                           str(PUPPET / "modules/imgproc/templates/imgproc.service.epp")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    unit = done.stdout
    assert "ExecStart=/opt/imgproc/venv/bin/imgproc worker --machine-id w1" in unit
    assert "Restart=on-failure" in unit
    assert "EnvironmentFile=/etc/imgproc/worker.env" in unit
    assert "KillSignal=SIGTERM" in unit and "TimeoutStopSec=45" in unit


def _noop(manifest: str, facts: dict[str, str], tmp_path: Path) -> str:
    env = {**os.environ, **{f"FACTER_{k}": v for k, v in facts.items()}}
    done = subprocess.run(["puppet", "apply", "--noop", "--color=false",
                           f"--modulepath={PUPPET / 'modules'}", f"--vardir={tmp_path / 'var'}",
                           f"--confdir={tmp_path / 'conf'}", f"--logdir={tmp_path / 'log'}",
                           f"--rundir={tmp_path / 'run'}", str(PUPPET / "manifests" / manifest)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert "Compiled catalog" in output, output
    errors = [line for line in output.splitlines()
              if "Error" in line and not any(known in line for known in HOST_ONLY_ERRORS)]
    assert errors == [], output
    return output


def test_puppet_compiles_the_worker_image(tmp_path):
    """What the box builder applies: the unit installed but not run (no service resource:
    the setup script starts it once the machine's settings exist), and the setup script."""
    (tmp_path / "wheels").mkdir()
    output = _noop("worker.pp", {"imgproc_wheels_dir": str(tmp_path / "wheels")}, tmp_path)
    assert "File[/etc/systemd/system/imgproc-worker.service]" in output
    assert "File[/usr/local/sbin/imgproc-worker-setup]" in output
    assert "Service[imgproc-worker]" not in output


def _refusal(manifest: str, facts: dict[str, str], tmp_path: Path) -> str:
    """What `puppet apply --noop` of a manifest says with only these facts."""
    done = subprocess.run(["puppet", "apply", "--noop", "--color=false",
                           f"--modulepath={PUPPET / 'modules'}", f"--vardir={tmp_path / 'var'}",
                           f"--confdir={tmp_path / 'conf'}", str(PUPPET / "manifests" / manifest)],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, **{f"FACTER_{k}": v for k, v in facts.items()}})
    return done.stdout + done.stderr


def test_the_worker_image_refuses_to_compile_without_its_wheels(tmp_path):
    assert "needs the fact imgproc_wheels_dir" in _refusal("worker.pp", {}, tmp_path)


def _setup_script(tmp_path: Path) -> Path:
    """imgproc-worker-setup as Puppet renders it, its /etc/ paths moved under tmp_path."""
    done = subprocess.run(["puppet", "epp", "render", "--values",
                           "{env_file => '/etc/imgproc/worker.env', unit => 'imgproc-worker'}",
                           str(PUPPET / "modules/imgproc/templates/worker-setup.sh.epp")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    script = tmp_path / "imgproc-worker-setup"
    script.write_text(done.stdout.replace("/etc/", f"{tmp_path}/etc/"))
    script.chmod(0o755)
    return script


def _shims(tmp_path: Path) -> dict[str, str]:
    """systemctl and hostname recorded, not run: the script runs on this host, with its
    /etc/ paths under tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("systemctl", "hostname"):
        (bin_dir / name).write_text(f"#!/bin/sh\necho {name} \"$@\" >>{tmp_path}/calls.log\n")
    for shim in bin_dir.iterdir():
        shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.mark.parametrize(("arguments", "settings", "message"), [
    (["Worker_1", "60"], "X=1\n", "is not a host name"),
    (["-w", "60"], "X=1\n", "is not a host name"),
    (["worker-1", "6O"], "X=1\n", "is not a whole number"),
    (["worker-1", "0"], "X=1\n", "at least 1"),
    (["worker-1", "60"], "", "no settings on standard input"),
    (["worker-1"], "X=1\n", "usage"),
])
def test_the_setup_script_refuses_bad_input_before_it_changes_anything(
        tmp_path, arguments, settings, message):
    script = _setup_script(tmp_path)
    env = _shims(tmp_path)
    (tmp_path / "etc" / "imgproc").mkdir(parents=True)
    done = subprocess.run([str(script), *arguments], input=settings, capture_output=True,
                          text=True, timeout=30, check=False, env=env)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert [p.name for p in (tmp_path / "etc").iterdir()] == ["imgproc"]
    assert list((tmp_path / "etc" / "imgproc").iterdir()) == []
    assert not (tmp_path / "calls.log").exists()


def test_the_setup_script_makes_the_image_one_machine_and_starts_its_worker(tmp_path):
    script = _setup_script(tmp_path)
    env = _shims(tmp_path)
    (tmp_path / "etc" / "imgproc").mkdir(parents=True)
    (tmp_path / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\timgproc-box\n")
    settings = 'IMGPROC_POLICY="slo"\nIMGPROC_ZK__ROOT="/t"\n'
    done = subprocess.run([str(script), "worker-7", "45"], input=settings, capture_output=True,
                          text=True, timeout=30, check=False, env=env)
    assert done.returncode == 0, done.stderr
    drop_in = (tmp_path / "etc/systemd/system/imgproc-worker.service.d/machine.conf").read_text()
    assert "Environment=MACHINE_ID=worker-7" in drop_in and "TimeoutStopSec=45" in drop_in
    written = tmp_path / "etc/imgproc/worker.env"
    assert written.read_text() == settings and written.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "etc/hostname").read_text() == "worker-7\n"
    assert (tmp_path / "etc/hosts").read_text() == "127.0.0.1\tlocalhost\n127.0.1.1\tworker-7\n"
    # Not loaded before, so no reload: show says no reload is needed (the shim prints nothing).
    assert (tmp_path / "calls.log").read_text().splitlines() == [
        "hostname worker-7",
        "systemctl show --property NeedDaemonReload --value imgproc-worker.service",
        "systemctl restart imgproc-worker.service"]


def test_puppet_compiles_the_master_node(tmp_path):
    output = _noop("master.pp", {"imgproc_rabbit_password": "secret",
                                 "imgproc_s3_secret": "s3-admin-0123456789",
                                 "imgproc_fleet_s3_secret": "s3-fleet-0123456789",
                                 "imgproc_wheels_dir": str(tmp_path)}, tmp_path)
    for service in ("imgproc-deployer", "imgproc-scaler", "imgproc-storage",
                    "imgproc-s3-proxy"):
        assert f"File[/etc/systemd/system/{service}.service]" in output
    assert "File[/etc/imgproc/s3-identities.json]" in output


def test_the_master_refuses_to_compile_without_its_s3_secrets(tmp_path):
    facts = {"imgproc_rabbit_password": "secret", "imgproc_wheels_dir": str(tmp_path)}
    assert "imgproc_s3_secret" in _refusal("master.pp", facts, tmp_path)


def test_the_object_stores_unit_keeps_every_port_on_loopback():
    params = ("{weed => '/opt/seaweedfs/venv/bin/weed', dir => '/var/lib/imgproc-storage', "
              "config => '/etc/imgproc/s3-identities.json'}")
    done = subprocess.run(["puppet", "epp", "render", "--values", params,
                           str(PUPPET / "modules/imgproc/templates/storage.service.epp")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "-ip.bind=127.0.0.1" in done.stdout
    assert "-s3.config=/etc/imgproc/s3-identities.json" in done.stdout


def test_the_master_refuses_to_compile_without_a_broker_password(tmp_path):
    assert "imgproc_rabbit_password" in _refusal("master.pp", {}, tmp_path)
