"""End to end on real VMs: a live replay whose machines are Vagrant VMs.

A short trace of thumbnail jobs is replayed with ``imgproc-tui --replay TRACE --backend
live --provider vagrant`` and a policy that keeps two workers, its roots in the host's
object store: two VMs boot (software emulation here, several minutes), Puppet provisions
them, their workers register in ZooKeeper, take jobs from the host's RabbitMQ and read
and write the images on its S3 (all as the fleet's user, through the provider's relays);
every job completes, every thumbnail is in the bucket and decodes to the expected size,
the workers that did them have guest addresses, and the teardown drains and destroys
both VMs; the run's objects are then deleted.
Afterwards libvirt and Vagrant show nothing of ours. The boot-timeout test makes
a VM that cannot come up in time and checks it is destroyed and recorded failed.

The set-up is the test's own: scripts/ensure-vagrant.sh (packages, libvirt, /dev/kvm
permissions) and the box (built once, cached). RabbitMQ and ZooKeeper are the test
command's (scripts/ensure-services.sh). Figures go to $IMGPROC_VAGRANT_FIGURES (default
.imgproc/vagrant-figures.json) and are printed.
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.vagrant,
    pytest.mark.exclusive,  # two emulated VMs take both cores, and the test times them
    pytest.mark.skipif(os.geteuid() != 0, reason="VMs need root here (libvirt's system instance)"),
    pytest.mark.skipif(sys.platform != "linux", reason="libvirt/QEMU on Linux only"),
]
NETWORK = ipaddress.ip_network("192.168.121.0/24")  # vagrant-libvirt's management network


STATE_DIR = ROOT / ".imgproc" / "vagrant-e2e"  # kept between runs: wheels are cached there


@pytest.fixture(scope="module")
def host_ready():
    """This host set up for VMs and the box built (`imgproc box build`; cached)."""
    done = subprocess.run([str(ROOT / "scripts" / "ensure-vagrant.sh")], capture_output=True,
                          text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr
    imgproc = str(Path(sys.executable).parent / "imgproc")
    env = {**os.environ, "IMGPROC_PROVIDER__STATE_DIR": str(STATE_DIR)}
    cached = subprocess.run([imgproc, "box", "check"], env=env, capture_output=True, timeout=300,
                            check=False).returncode == 0
    started = time.time()
    done = subprocess.run([imgproc, "box", "build"], env=env, capture_output=True, text=True,
                          timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    figure = f"box_build_{'cached' if cached else 'cold'}_s"
    _record_figures({figure: round(time.time() - started, 1)})


def _ours_left(state_dir: Path) -> dict[str, str]:
    domains = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all", "--name"],
                             capture_output=True, text=True, timeout=60, check=False).stdout
    status = subprocess.run(["vagrant", "global-status", "--prune"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1"},
                            check=False).stdout
    return {
        "domains": "\n".join(d for d in domains.split() if d.startswith("imgproc_")),
        "vagrant": "\n".join(line for line in status.splitlines() if str(state_dir) in line),
        "run_dirs": "\n".join(str(p) for p in (state_dir / "vagrant").glob("worker-*")),
    }


def _network_exists(name: str = "vagrant-libvirt") -> bool:
    return subprocess.run(["virsh", "-c", "qemu:///system", "net-info", name], capture_output=True,
                          timeout=60, check=False).returncode == 0


def _record_figures(figures: dict) -> None:
    default = ROOT / ".imgproc" / "vagrant-figures.json"
    path = Path(os.environ.get("IMGPROC_VAGRANT_FIGURES", default))
    path.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(path.read_text()) if path.is_file() else {}
    known.update(figures)
    path.write_text(json.dumps(known, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


def _remove_run(zk_hosts: str, root: str, queues: list[str], exchange: str) -> None:
    """Leave nothing of the run in ZooKeeper or RabbitMQ (the replay keeps its tree's root)."""
    from kazoo.client import KazooClient

    client = KazooClient(hosts=zk_hosts)
    client.start(timeout=10)
    try:
        if client.exists(root):
            client.delete(root, recursive=True)
    finally:
        client.stop()
        client.close()
    import pika

    from imgproc.adapters.rabbit.settings import RabbitSettings

    url = os.environ.get("IMGPROC_RABBIT__URL", RabbitSettings().url)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_delete(queue)
        channel.exchange_delete(exchange)
    finally:
        connection.close()


class _Watch(threading.Thread):
    """Polls the registry every second: each machine's address, state, first job seen."""

    def __init__(self, zk_hosts: str, root: str) -> None:
        super().__init__(daemon=True)
        from imgproc.adapters.zk.client import connect
        from imgproc.adapters.zk.registry import ZkMachineRegistry
        from imgproc.adapters.zk.settings import ZkSettings

        self.client = connect(ZkSettings(hosts=zk_hosts, root=root))
        self.registry = ZkMachineRegistry(self.client, root)
        self.seen: dict[str, dict] = {}
        self.memory_mib: dict[str, float] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(1.0):
            try:
                machines = self.registry.all_machines()
            except Exception:  # noqa: BLE001 - a missed sample is harmless
                continue
            now = time.time()
            self._sample_memory()
            for m in machines:
                seen = self.seen.setdefault(m.id, {"requested_at": m.requested_at, "states": []})
                if not seen["states"] or seen["states"][-1] != m.state.value:
                    seen["states"].append(m.state.value)
                if m.address:
                    seen["address"] = m.address
                if m.jobs_done > seen.get("jobs_done", 0):
                    seen["last_job_at"] = now
                seen["jobs_done"] = max(seen.get("jobs_done", 0), m.jobs_done)
                if (m.current_job or m.jobs_done) and "first_job_at" not in seen:
                    seen["first_job_at"] = now
                if m.state.value == "running" and "running_at" not in seen:
                    seen["running_at"] = now
                if m.reason:
                    seen["reason"] = m.reason

    def _sample_memory(self) -> None:
        """The largest resident size seen of each of our VMs' QEMU process, MiB."""
        import psutil

        for proc in psutil.process_iter(["name", "cmdline", "memory_info"]):
            cmdline = " ".join(proc.info.get("cmdline") or [])
            qemu = (proc.info.get("name") or "").startswith("qemu-system")
            if qemu and "guest=imgproc_" in cmdline:
                name = cmdline.split("guest=", 1)[1].split(",", 1)[0]
                rss = (proc.info["memory_info"].rss if proc.info.get("memory_info") else 0) / 2**20
                self.memory_mib[name] = max(self.memory_mib.get(name, 0.0), round(rss))

    def close(self) -> None:
        self.halt.set()
        self.join(5)
        self.client.stop()
        self.client.close()


def _image_trace(path: Path, jobs: int) -> None:
    """Thumbnail jobs, one a second, over three 1920x1080 photos under the input root."""
    lines = [{"id": f"vm-{n:03d}", "at": float(n), "service_s": 0.05,
              "input": f"photos/photo-000{n % 3 + 1}-1920x1080.jpg",
              "output": f"thumbs/vm-{n:03d}.jpg",
              "ops": [{"op": "thumbnail", "size": 256}, {"op": "convert", "format": "jpeg"}]}
             for n in range(jobs)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _objects(prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix`` in the imgproc bucket, by key."""
    from imgproc.adapters.storage.s3 import s3_client
    from imgproc.adapters.storage.settings import StorageSettings

    client = s3_client(StorageSettings())
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket="imgproc", Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        return {key: client.get_object(Bucket="imgproc", Key=key)["Body"].read() for key in keys}
    finally:
        client.close()


def _delete_objects(prefix: str) -> None:
    from imgproc.adapters.storage.s3 import s3_client
    from imgproc.adapters.storage.settings import StorageSettings

    client = s3_client(StorageSettings())
    try:
        for key in list(_objects(prefix)):
            client.delete_object(Bucket="imgproc", Key=key)
    finally:
        client.close()


def test_an_image_replay_on_two_vagrant_vms_writes_every_output_and_leaves_nothing(
        host_ready, tmp_path):
    """Real thumbnails: the VMs read the photos from the host's object store and write the
    thumbnails back, signing in with the fleet's credentials (never guest)."""
    run = uuid.uuid4().hex[:6]
    trace = tmp_path / "trace.jsonl"
    jobs = 20
    _image_trace(trace, jobs)
    photos = subprocess.run([str(Path(sys.executable).parent / "imgproc"), "photos", "--out",
                             f"s3://imgproc/vm{run}/photos", "--count", "3", "--size",
                             "1920x1080", "--format", "jpeg"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert photos.returncode == 0, photos.stderr
    state_dir = STATE_DIR
    root = f"/imgproc-vagrant-{run}"
    env = {**os.environ,
           "IMGPROC_ZK__ROOT": root,
           "IMGPROC_RABBIT__JOBS_QUEUE": f"vm{run}-upload-picture",
           "IMGPROC_RABBIT__DEAD_LETTER_QUEUE": f"vm{run}-upload-picture.dead",
           "IMGPROC_RABBIT__RESULTS_EXCHANGE": f"vm{run}-imgproc.results",
           "IMGPROC_RABBIT__DEPLOYER_QUEUE": f"vm{run}-deployer",
           "IMGPROC_RABBIT__CALLBACK_QUEUE": f"vm{run}-deployer_callback",
           "IMGPROC_PROVIDER__STATE_DIR": str(state_dir),
           "IMGPROC_WORKER__INPUT_ROOT": f"s3://imgproc/vm{run}",
           "IMGPROC_WORKER__OUTPUT_ROOT": f"s3://imgproc/vm{run}-out",
           "IMGPROC_PROVIDER__DRAIN_TIMEOUT_S": "60",
           "IMGPROC_PROVIDER__OPTIONS__MAX_BOOTING": "2"}
    network_before = _network_exists()
    watch = _Watch(os.environ.get("IMGPROC_ZK__HOSTS", "127.0.0.1:2181"), root)
    watch.start()
    started = time.time()
    try:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "imgproc-tui"), "--replay", str(trace),
             "--backend", "live", "--provider", "vagrant", "--policy", "constantsize",
             "--param", "size=2",
             "--param", "max_starting=2", "--json"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500, check=False)
    finally:
        watch.close()
        queues = [v for k, v in env.items()
                  if k.startswith("IMGPROC_RABBIT__") and k.endswith("QUEUE")]
        _remove_run(os.environ.get("IMGPROC_ZK__HOSTS", "127.0.0.1:2181"), root, queues,
                    env["IMGPROC_RABBIT__RESULTS_EXCHANGE"])
        outputs = _objects(f"vm{run}-out/")
        _delete_objects(f"vm{run}")
    elapsed = time.time() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    assert summary["backend"] == "live"
    assert summary.get("jobs_completed", summary.get("completed")) == jobs, summary
    assert summary["jobs_failed"] == 0, summary
    assert sorted(outputs) == [f"vm{run}-out/thumbs/vm-{n:03d}.jpg" for n in range(jobs)]
    for key, data in outputs.items():
        image = Image.open(io.BytesIO(data))
        assert (image.format, image.size) == ("JPEG", (256, 144)), key
    assert _objects(f"vm{run}") == {}

    workers = {mid: seen for mid, seen in watch.seen.items() if seen.get("jobs_done")}
    assert len(watch.seen) >= 2, watch.seen
    failed = {mid: seen for mid, seen in watch.seen.items() if "failed" in seen["states"]}
    assert not failed, failed
    # Both VMs took jobs, unless one was not up yet when the other had done them all (it
    # is then destroyed while it boots): boots under emulation differ by up to minutes,
    # and twenty jobs take one VM ten seconds.
    last_job_at = max(seen["last_job_at"] for seen in workers.values())
    late = [seen for seen in watch.seen.values()
            if not seen.get("jobs_done") and "running_at" in seen
            and seen["running_at"] < last_job_at - 2]
    assert workers and not late, watch.seen
    print(f"VMs that took jobs: {len(workers)} of {len(watch.seen)}")
    for mid, seen in workers.items():
        assert ipaddress.ip_address(seen["address"]) in NETWORK, (mid, seen)
        assert "running" in seen["states"], (mid, seen)
    assert sum(seen["jobs_done"] for seen in workers.values()) == jobs

    left = _ours_left(state_dir)
    assert left == {"domains": "", "vagrant": "", "run_dirs": ""}, left
    if not network_before and _network_exists():  # the provider made it for this run
        subprocess.run(["virsh", "-c", "qemu:///system", "net-destroy", "vagrant-libvirt"],
                       capture_output=True, timeout=60, check=False)

    figures = {
        "e2e_replay_s": round(elapsed, 1),
        "scale_up_to_first_job_s": sorted(round(s["first_job_at"] - s["requested_at"], 1)
                                          for s in workers.values()),
        "scale_up_to_running_s": sorted(round(s["running_at"] - s["requested_at"], 1)
                                        for s in workers.values() if "running_at" in s),
        "qemu_rss_mib_per_vm": watch.memory_mib,
    }
    timings_file = state_dir / "vagrant" / "timings.jsonl"
    timings = [t for t in map(json.loads, timings_file.read_text().splitlines())
               if t["machine_id"] in workers and t["at"] >= started]
    figures["provider_timings"] = timings
    figures["breakdown"] = [_breakdown(t, workers[t["machine_id"]]) for t in timings]
    figures["goal_s"] = GOAL_FIRST_JOB_S
    _record_figures(figures)
    # The goal is 120 s; software emulation's speed varies with the host beneath by up to
    # 2.7x on this machine kind (docs/vagrant.md), so the test fails only beyond twice it.
    slowest = max(figures["scale_up_to_first_job_s"])
    assert slowest <= 2 * GOAL_FIRST_JOB_S, figures


GOAL_FIRST_JOB_S = 120.0


def _breakdown(timing: dict, seen: dict) -> dict[str, float]:
    """Where one VM's scale-up to first job went: a boot slot, the guest's boot to its setup
    step (Vagrant's domain creation, the kernel, systemd, the wait for SSH), the setup step,
    the worker's start to serving, and serving to its first job. The worker's start is
    counted from the guest's clock, which it takes from the emulated RTC in whole seconds:
    that part and the boot's are within a second."""
    parts = {"slot_s": timing["waited_s"]}
    if "worker_started_at" in timing:
        setup_done = timing["worker_started_at"]
        parts["boot_to_setup_s"] = (setup_done - timing["guest_setup_s"] - seen["requested_at"]
                                    - timing["waited_s"])
        parts["guest_kernel_to_setup_s"] = timing["guest_boot_s"]
        parts["setup_s"] = timing["guest_setup_s"]
        parts["worker_start_s"] = seen["running_at"] - setup_done
    parts["running_to_first_job_s"] = seen["first_job_at"] - seen["running_at"]
    return {k: round(v, 1) for k, v in parts.items()}


def test_a_vm_that_does_not_boot_in_time_is_destroyed_marked_failed_and_replaced(host_ready):
    """The real deployer logic and the real scaler, over in-memory queues and registry; only
    the VM is real. Its `vagrant up` is given 20 s, which no VM here boots in."""
    from imgproc.adapters.memory.broker import MemoryBroker
    from imgproc.adapters.memory.registry import MemoryMachineRegistry
    from imgproc.adapters.providers.vagrant import VagrantProvider
    from imgproc.core.deployer import Deployer
    from imgproc.core.fleet import CommandedFleet
    from imgproc.core.machines import MachineState
    from imgproc.core.messages import DeployerCommand
    from imgproc.core.observation import QueueStats
    from imgproc.core.policies import build_policy
    from imgproc.core.scaler import Scaler

    class Clock:
        def now(self) -> float:
            return time.time()

        def sleep(self, seconds: float) -> None:
            time.sleep(seconds)

    class EmptyQueue:
        def stats(self) -> QueueStats:
            return QueueStats(ready=0, in_flight=0, published=0, completed=0)

    state_dir = STATE_DIR
    provider = VagrantProvider(state_dir, {"zk": {"root": "/imgproc-vagrant-timeout"}},
                               up_timeout_s=20, max_booting=1)
    registry, bus = MemoryMachineRegistry(), MemoryBroker().command_bus()
    reports = []
    deployer = Deployer(registry, provider, Clock(), boot_timeout_s=20, report=reports.append)
    fleet = CommandedFleet(registry, bus, Clock(), new_id=lambda: f"worker-t{uuid.uuid4().hex[:6]}")
    scaler = Scaler(build_policy("constantsize", {"size": 1}), EmptyQueue(), registry, fleet,
                    Clock())

    def deployer_takes_its_command() -> str:
        delivery = bus.next_command(5)
        command = DeployerCommand.decode(delivery.body)
        delivery.ack()
        deployer.handle(command)
        return command.machine_id

    try:
        first = scaler.run_once().started
        started = time.time()
        failed = deployer_takes_its_command()
        elapsed = time.time() - started
        second = scaler.run_once().started
    finally:
        provider.close()
    assert first == [failed]
    states = [m.state for m in reports]
    assert states == [MachineState.BOOTING, MachineState.FAILED, MachineState.DESTROYED], reports
    assert "took more than 20 s" in (reports[-1].reason or ""), reports[-1]
    assert failed not in provider.alive()
    assert len(second) == 1 and second != first  # the scaler asked for a replacement
    assert registry.get(second[0]).state is MachineState.PREPARING
    left = _ours_left(state_dir)
    assert left == {"domains": "", "vagrant": "", "run_dirs": ""}, left
    _record_figures({"boot_timeout_fail_and_destroy_s": round(elapsed, 1)})
