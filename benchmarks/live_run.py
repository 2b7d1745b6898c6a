"""What the benchmarks against the live RabbitMQ and ZooKeeper share (bench_pipeline.py,
bench_reaction.py): the host's description for the report header, the run's isolated
settings and the deletion of its queues, and SIGTERM handled as an interrupt.

Imported as a sibling module: ``python benchmarks/bench_X.py`` puts ``benchmarks/`` first on
``sys.path`` (and processes started with ``spawn`` inherit that path).
"""

from __future__ import annotations

import os
import platform
import signal
from datetime import UTC, datetime

import pika
from machine import cpu_model

from imgproc.settings import Settings, load_settings


def print_date_and_machine(extra: str = "") -> None:
    """The report's ``date:`` and ``machine:`` lines; ``extra`` ends the second."""
    now = datetime.now(UTC)
    print(f"date:      {now:%Y-%m-%d %H:%M} UTC")
    print(f"machine:   {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
          f"{cpu_model()}, {platform.python_implementation()} {platform.python_version()}"
          f"{extra}")


def sigterm_raises_interrupt() -> None:
    """SIGTERM raises KeyboardInterrupt, so that a terminated run cleans up too."""
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))


def isolated_settings(run_id: str) -> Settings:
    """The configured settings, with every queue, exchange and znode of this run apart."""
    base = load_settings()
    return base.model_copy(update={
        "rabbit": base.rabbit.isolated(f"bench-{run_id}."),
        "zk": base.zk.model_copy(update={"root": f"/imgproc-bench-{run_id}"}),
    })


def delete_queues(settings: Settings, *extra_queues: str) -> list[str]:
    """Delete the run's queues (the settings' own, then ``extra_queues``) and its results
    exchange; the problems met, if any."""
    r = settings.rabbit
    try:
        connection = pika.BlockingConnection(pika.URLParameters(r.url))
        channel = connection.channel()
        for queue in (r.jobs_queue, r.dead_letter_queue, r.deployer_queue, r.callback_queue,
                      r.kept_results_queue, *extra_queues):
            channel.queue_delete(queue)
        channel.exchange_delete(r.results_exchange)
        connection.close()
    except Exception as exc:  # noqa: BLE001
        return [f"deleting queues: {exc}"]
    return []
