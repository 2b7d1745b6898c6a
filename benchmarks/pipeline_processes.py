"""The processes of a pipeline round (bench_pipeline.py): the publishers and the bare pika
consumer, each run in a process of its own (``spawn``), and the helpers that wait for, stop
and measure processes.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import subprocess
import time

import pika
import pika.exceptions
import psutil

from imgproc.adapters.rabbit import RabbitJobPublisher
from imgproc.core.messages import JobMessage
from imgproc.settings import Settings

SPAWN = mp.get_context("spawn")


def job_body(run: str, index: int) -> tuple[str, bytes]:
    job_id = f"{run}-{index}"
    return job_id, JobMessage(job_id=job_id, submitted_at=time.time(), service_s=0.0).encode()


# --------------------------------------------------------------------------- publishers
# Each runs in its own process, so that the process receiving results (imgproc) or
# waiting for the consumers (raw) does not share an interpreter with it.

def publish_imgproc(settings: Settings, run: str, count: int, started, finished, cpu) -> None:
    publisher = RabbitJobPublisher(settings.rabbit, role=f"bench {run}")
    bodies = [job_body(run, i) for i in range(count)]
    cpu0 = time.process_time()
    started.value = time.time()
    for job_id, body in bodies:
        publisher.publish_body(body, job_id)
    finished.value = time.time()
    cpu.value = time.process_time() - cpu0
    publisher.close()


def publish_raw(url: str, queue: str, run: str, count: int, started, finished, cpu) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    bodies = [job_body(run, i) for i in range(count)]
    cpu0 = time.process_time()
    started.value = time.time()
    for job_id, body in bodies:
        props = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent,
                                     content_type="application/json", message_id=job_id)
        channel.basic_publish("", queue, body, props, mandatory=True)
    finished.value = time.time()
    cpu.value = time.process_time() - cpu0
    connection.close()


# --------------------------------------------------------------------------- raw consumer

def raw_consumer(url: str, queue: str, slot: int, counts, last, stop) -> None:
    """A bare pika consumer: prefetch 1, ack each message as it comes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=1)

    def on_message(ch, method, _props, _body) -> None:
        ch.basic_ack(method.delivery_tag)
        counts[slot] += 1
        last[slot] = time.time()

    channel.basic_consume(queue, on_message)
    while not stop.is_set():
        connection.process_data_events(time_limit=0.2)
    connection.close()


# --------------------------------------------------------------------------- helpers

def consumer_count(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.consumer_count
    except pika.exceptions.ChannelClosedByBroker:  # not declared yet
        return 0
    finally:
        connection.close()


def wait_for(condition, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


def stop_processes(procs, timeout_s: float = 15.0) -> None:
    """SIGTERM each of our children, then kill those still there after ``timeout_s``."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def service_processes() -> dict[str, list[psutil.Process]]:
    """The local RabbitMQ and ZooKeeper server processes, if they run on this host (read only)."""
    found: dict[str, list[psutil.Process]] = {"RabbitMQ": [], "ZooKeeper": []}
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "beam.smp" and "-s rabbit boot" in cmdline:
            found["RabbitMQ"].append(proc)
        elif proc.info["name"] == "java" and "zookeeper" in cmdline.lower():
            found["ZooKeeper"].append(proc)
    return found


class CpuMeter:
    """CPU seconds (user + system) used by groups of processes between two snapshots."""

    def __init__(self, groups: dict[str, list[psutil.Process]]) -> None:
        self.groups = groups
        self.start = self._snapshot()

    def _snapshot(self) -> dict[tuple[str, int], float]:
        times = {}
        for name, procs in self.groups.items():
            for p in procs:
                try:
                    t = p.cpu_times()
                    times[(name, p.pid)] = t.user + t.system
                except psutil.Error:
                    pass
        return times

    def used(self) -> dict[str, float]:
        """Per group, the CPU used by its processes that lived through both snapshots."""
        end = self._snapshot()
        totals = {name: 0.0 for name in self.groups}
        for key, value in end.items():
            if key in self.start:
                totals[key[0]] += value - self.start[key]
        return totals

