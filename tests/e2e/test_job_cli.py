"""``imgproc job`` and ``imgproc schema`` as a user runs them, on the real RabbitMQ (a vhost
of the test's) and SeaweedFS, with a worker serving the jobs in this process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from imgproc.adapters.memory.registry import (
    MemoryLiveness,
    MemoryMachineRegistry,
    MemorySession,
    MemoryWorkerBoard,
)
from imgproc.adapters.rabbit import RabbitSettings
from imgproc.adapters.storage.settings import StorageSettings
from imgproc.bootstrap.processes import build_worker
from imgproc.core.messages import JobMessage, ResultMessage
from imgproc.settings import Settings, WorkerSettings

pytestmark = pytest.mark.services
BIN = Path(sys.executable).parent


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def settings(s3_settings: StorageSettings, tmp_path: Path) -> Iterator[Settings]:
    """A vhost of the test's and a worker serving its jobs queue."""
    vhost = f"imgproc-job-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    live = Settings(rabbit=RabbitSettings().with_vhost(vhost), storage=s3_settings,
                    worker=WorkerSettings(input_root=str(tmp_path), output_root=str(tmp_path)))
    stop = threading.Event()
    worker = build_worker(live, "w-cli", stop, registry=MemoryMachineRegistry(),
                          liveness=MemoryLiveness(MemoryWorkerBoard(), MemorySession()))
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield live
    stop.set()
    thread.join(timeout=30)
    rabbitmqctl("delete_vhost", vhost)


def imgproc(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {"IMGPROC_RABBIT": json.dumps({"url": settings.rabbit.url}), "PATH": str(BIN)}
    return subprocess.run([str(BIN / "imgproc"), *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "cat.jpg"
    Image.new("RGB", (800, 600), "orange").save(path)
    return path


def test_submit_wait_then_status_and_get_give_the_same_job(settings, photo, tmp_path):
    done = imgproc(settings, "job", "submit", str(photo), "--op", "thumbnail:256",
                   "--op", "convert:webp", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["error"], result["width"], result["height"]) == (
        "done", None, 256, 192)
    assert result["output"] == f"s3://imgproc/outputs/{result['job_id']}.webp"
    status = imgproc(settings, "job", "status", result["job_id"])
    assert status.returncode == 0, status.stderr
    assert "status: done" in status.stdout and result["output"] in status.stdout
    out = tmp_path / "thumb.webp"
    got = imgproc(settings, "job", "get", result["job_id"], "--out", str(out))
    assert got.returncode == 0, got.stderr
    assert Image.open(io.BytesIO(out.read_bytes())).size == (256, 192)
    assert out.stat().st_size == result["output_bytes"]


def test_a_failed_job_exits_1_with_its_error(settings, tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture\n")
    failed = imgproc(settings, "job", "submit", str(notes), "--op", "thumbnail:64", "--wait")
    assert failed.returncode == 1
    assert "status: failed" in failed.stdout
    assert "error: " in failed.stderr and "not an image" in failed.stderr
    job_id = failed.stdout.split("job_id: ", 1)[1].split()[0]
    status = imgproc(settings, "job", "status", job_id, "--json")
    assert status.returncode == 1 and json.loads(status.stdout)["status"] == "failed"
    got = imgproc(settings, "job", "get", job_id, "--out", str(tmp_path / "x.jpg"))
    assert got.returncode == 1 and "has no output to get" in got.stderr


def test_submit_without_wait_prints_the_job_and_an_unknown_job_exits_2(settings, photo):
    queued = imgproc(settings, "job", "submit", str(photo), "--op", "grayscale", "--json")
    assert queued.returncode == 0, queued.stderr
    assert json.loads(queued.stdout)["status"] == "queued"
    unknown = imgproc(settings, "job", "status", "no-such-job")
    assert unknown.returncode == 2 and "status: unknown" in unknown.stdout


def test_a_bad_op_is_a_clear_error_and_sends_nothing(settings, photo):
    bad = imgproc(settings, "job", "submit", str(photo), "--op", "thumbnail:big")
    assert bad.returncode == 1
    assert "op 'thumbnail:big': 'big' is not a whole number" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("message, model", [("job", JobMessage), ("result", ResultMessage)])
def test_schema_prints_the_messages_json_schema(message, model):
    shown = subprocess.run([str(BIN / "imgproc"), "schema", message], capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    schema = json.loads(shown.stdout)
    assert schema["title"] == model.__name__
    assert set(model.model_fields) == set(schema["properties"])
