"""The job client on the in-memory broker and buckets, with a worker stepped by hand: what
it uploads, what it names, what it waits for."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from imgproc.adapters.images import ImageProcessor
from imgproc.adapters.memory.broker import MemoryBroker
from imgproc.adapters.storage.router import memory_storage
from imgproc.adapters.system_clock import SystemClock
from imgproc.client import Client, ClientError, ClientParts, ResultTimeout
from imgproc.core.clock import ManualClock
from imgproc.core.messages import JobMessage
from imgproc.core.worker import SimulatedWork, Worker
from imgproc.live.worker import ImageWork


@pytest.fixture
def system(tmp_path: Path):
    broker = MemoryBroker()
    storage, buckets = memory_storage(tmp_path / "in", tmp_path / "out")
    clock = ManualClock(1000.0)
    worker = Worker("w1", broker.job_source(), broker.result_sink(),
                    ImageWork(ImageProcessor(storage)), SimulatedWork(clock.advance), clock)
    parts = ClientParts(publisher=broker.job_publisher(), open_inbox=broker.reply_inbox,
                        lookup=broker.result_lookup(), storage=storage, bucket="imgproc",
                        max_object_bytes=10**8, clock=SystemClock())
    return Client(parts=parts), worker, buckets


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "holiday.jpg"
    Image.new("RGB", (400, 300), "teal").save(path)
    return path


def test_a_local_file_is_uploaded_processed_and_its_result_returned(system, photo):
    client, worker, buckets = system
    handle = client.submit(photo, ["thumbnail:100", "convert:png"])
    assert handle.job.input == f"s3://imgproc/uploads/{handle.job_id}/holiday.jpg"
    assert handle.job.output == f"s3://imgproc/outputs/{handle.job_id}.png"
    assert worker.step(0)
    result = handle.result(timeout=1)
    assert (result.status, result.output, result.width, result.height, result.format) == (
        "done", handle.job.output, 100, 75, "png")
    written = buckets["imgproc"].read(f"outputs/{handle.job_id}.png", 10**6)
    assert len(written) == result.output_bytes
    assert Image.open(io.BytesIO(written)).size == (100, 75)


def test_results_of_other_jobs_wait_for_their_own_handles(system, photo):
    client, worker, _ = system
    handles = [client.submit(photo, ["grayscale"], output=f"s3://imgproc/o/{n}.jpg")
               for n in range(5)]
    while worker.step(0):
        pass
    for handle in reversed(handles):
        assert handle.result(timeout=1).job_id == handle.job_id


def test_a_result_that_does_not_come_times_out_naming_the_job(system, photo):
    client, _, _ = system
    handle = client.submit(photo, ["grayscale"])
    with pytest.raises(ResultTimeout, match=f"job {handle.job_id}: no result within 0.3 s"):
        handle.result(timeout=0.3)


def test_a_failed_job_is_a_result_with_its_error(system, tmp_path):
    client, worker, _ = system
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture")
    handle = client.submit(notes, ["thumbnail:10"])
    worker.step(0)
    result = handle.result(timeout=1)
    assert result.status == "failed" and "not an image" in (result.error or "")
    assert client.status(handle.job_id) == result


@pytest.mark.parametrize("output, problem", [
    ("s3://elsewhere/x.jpg", "lies outside the places"),
    ("../x.jpg", "must not contain '..'"),
    ("file:///etc/x.jpg", "neither an s3:// URL nor a relative path"),
])
def test_an_output_it_may_not_write_is_refused_before_anything_is_sent(
        system, photo, output, problem):
    client, worker, buckets = system
    with pytest.raises(ClientError, match=problem):
        client.submit(photo, ["grayscale"], output=output)
    assert not worker.step(0)
    assert "imgproc" not in buckets or buckets["imgproc"].keys() == []


def test_a_missing_local_file_and_an_empty_op_list_are_refused(system, tmp_path):
    client, _, _ = system
    with pytest.raises(ClientError, match="no such file"):
        client.submit(tmp_path / "nowhere.jpg", ["grayscale"])
    with pytest.raises(ClientError, match="at least one op"):
        client.submit(tmp_path / "nowhere.jpg", [])


def test_an_s3_input_is_used_where_it_is(system, photo):
    client, worker, buckets = system
    data = photo.read_bytes()
    store = client.parts.storage.input("s3://imgproc/photos/a.jpg")
    store.store.write(store.key, data, "someone")
    handle = client.submit("s3://imgproc/photos/a.jpg", ["rotate:90"])
    worker.step(0)
    assert handle.result(timeout=1).height == 400
    assert buckets["imgproc"].keys() == ["outputs/" + handle.job_id + ".jpg", "photos/a.jpg"]


def test_a_reply_for_a_job_it_did_not_submit_is_dropped(system, photo):
    client, worker, _ = system
    mine = client.submit(photo, ["grayscale"])
    client.parts.publisher.publish(JobMessage(job_id="someone-elses", submitted_at=0,
                                              service_s=0, reply_to=mine.job.reply_to))
    assert worker.step(0) and worker.step(0)
    assert mine.result(timeout=1).job_id == mine.job_id
    assert client._arrived == {}


def test_closing_twice_does_nothing_the_second_time(system, photo):
    client, _, _ = system
    client.submit(photo, ["grayscale"])
    client.close()
    client.close()


def test_an_input_of_a_format_it_cannot_write_gets_a_png_output(system, tmp_path):
    client, _, _ = system
    gif = tmp_path / "anim.gif"
    Image.new("P", (10, 10)).save(gif)
    handle = client.submit(gif, ["grayscale"])
    assert handle.job.output == f"s3://imgproc/outputs/{handle.job_id}.png"
