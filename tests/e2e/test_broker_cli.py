"""``imgproc broker`` as an operator runs it, on the real broker in a vhost of the test's:
a classic jobs queue moved with its jobs, dead letters listed with their reasons, a result
found by its job id."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pika
import pytest

from imgproc.adapters.rabbit import RabbitJobSource, RabbitResultSink, RabbitSettings
from imgproc.adapters.rabbit.connection import RabbitLink
from imgproc.core.messages import ResultMessage

pytestmark = pytest.mark.services
BIN = Path(sys.executable).parent


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def vhost_settings():
    vhost = f"imgproc-cli-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield RabbitSettings().with_vhost(vhost)
    rabbitmqctl("delete_vhost", vhost)


def imgproc(settings: RabbitSettings, *args: str) -> subprocess.CompletedProcess:
    env = {"IMGPROC_RABBIT": json.dumps({"url": settings.url}), "PATH": str(BIN)}
    return subprocess.run([str(BIN / "imgproc"), "broker", *args], capture_output=True,
                          text=True, timeout=60, env=env)


def test_migrate_moves_a_classic_jobs_queue_with_its_jobs(vhost_settings):
    """As imgproc before quorum queues declared it: classic, durable."""
    link = RabbitLink(vhost_settings, "old-imgproc", declare=False)
    link.run("declaring", lambda ch: ch.queue_declare(vhost_settings.jobs_queue, durable=True))
    for n in range(3):
        link.run("publishing", lambda ch, n=n: ch.basic_publish(
            "", vhost_settings.jobs_queue, b"{}",
            pika.BasicProperties(delivery_mode=2, message_id=f"old-{n}")))
    link.close()
    done = imgproc(vhost_settings, "migrate")
    assert done.returncode == 0, done.stderr
    assert f"{vhost_settings.jobs_queue}: quorum queue, 3 message(s) moved" in done.stdout
    assert "the jobs queue's delivery limit is 3" in done.stdout
    again = imgproc(vhost_settings, "migrate")
    assert f"{vhost_settings.jobs_queue}: quorum queue, 0 message(s) moved" in again.stdout


def test_dead_letters_are_listed_with_their_reason_and_left_in_place(vhost_settings):
    link = RabbitLink(vhost_settings, "test")
    link.publish("publishing", "", vhost_settings.jobs_queue, b"not a job", message_id="bad-1",
                 mandatory=True)
    link.close()
    source = RabbitJobSource(vhost_settings)
    delivery = source.next_delivery(5.0)
    assert delivery is not None
    delivery.dead_letter("not JSON: line 1")
    source.close()
    for _ in range(2):
        listed = imgproc(vhost_settings, "dead-letters", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [json.loads(line) for line in listed.stdout.splitlines()] == [
            {"job_id": "bad-1", "reason": "not JSON: line 1"}]


def test_a_result_nobody_listened_for_is_found_by_its_job_id(vhost_settings):
    sink = RabbitResultSink(vhost_settings)
    sink.publish_result(ResultMessage(job_id="j-42", worker="w1", submitted_at=1.0,
                                      started_at=2.0, finished_at=3.0, status="done"))
    sink.close()
    found = imgproc(vhost_settings, "result", "j-42")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["job_id"] == "j-42"
    missing = imgproc(vhost_settings, "result", "j-43")
    assert missing.returncode == 1 and "no result of job j-43 kept" in missing.stderr
    assert "Traceback" not in missing.stderr
