"""Counting job results live: completions by job id, duplicates recognised.

A job may be delivered twice (a worker died after publishing its result but
before acknowledging, or a connection dropped): the first result counts, later
ones are counted as duplicates and never billed twice, except that a success
replaces an earlier failure of the same job (the job did get done).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from imgproc.core.messages import BadMessage, ResultMessage
from imgproc.core.observation import QueueStats
from imgproc.core.ports import Delivery, MachineView, ReadyCount, ResultFeed

log = logging.getLogger(__name__)
MAX_RESULTS_PER_POLL = 1000


def take_results(next_delivery: Callable[[float], Delivery | None], timeout_s: float,
                 source: str) -> list[ResultMessage]:
    """The results waiting on a queue, waiting up to ``timeout_s`` for the first one: each
    acknowledged once taken; one that cannot be decoded is logged and dropped (a result
    queue has no one to give it back to)."""
    results: list[ResultMessage] = []
    delivery = next_delivery(timeout_s)
    while delivery is not None:
        try:
            results.append(ResultMessage.decode(delivery.body))
        except BadMessage as exc:
            log.warning("dropping a result from %s: %s", source, exc)
        delivery.ack()
        if len(results) >= MAX_RESULTS_PER_POLL:
            break
        delivery = next_delivery(0)
    return results


@dataclass
class ResultTally:
    """Every distinct job's first result, and cumulative counters."""

    results: dict[str, ResultMessage] = field(default_factory=dict)
    duplicates: int = 0
    failed: int = 0
    service_s_total: float = 0.0
    response_s_total: float = 0.0

    def add(self, result: ResultMessage) -> bool:
        """Count ``result``; True if it is now the one counted for its job (its first, or
        a success after a failure), False if it is only a duplicate."""
        earlier = self.results.get(result.job_id)
        if earlier is not None:
            self.duplicates += 1
            if earlier.status == "failed" and result.status == "done":
                self._count(earlier, -1)
                self._count(result, +1)
                self.results[result.job_id] = result
                return True
            return False
        self.results[result.job_id] = result
        self._count(result, +1)
        return True

    def _count(self, result: ResultMessage, sign: int) -> None:
        if result.status == "failed":
            self.failed += sign
        self.service_s_total += sign * result.service_s
        self.response_s_total += sign * result.response_s

    @property
    def completed(self) -> int:
        return len(self.results)


class LiveQueueProbe:
    """The ``QueueProbe`` port live: ready jobs from the broker, jobs in flight from the
    registry (busy workers), completions from the results feed.

    The broker cannot say over AMQP how many jobs are unacknowledged, so the
    count of busy workers stands in; jobs published so far follow by
    conservation: completed + ready + in flight.
    """

    def __init__(self, ready: ReadyCount, machines: MachineView, feed: ResultFeed,
                 tally: ResultTally | None = None) -> None:
        self.ready = ready
        self.machines = machines
        self.feed = feed
        self.tally = tally or ResultTally()

    def stats(self) -> QueueStats:
        for result in self.feed.poll_results(0.0):
            self.tally.add(result)
        ready = self.ready.ready()
        in_flight = sum(1 for m in self.machines.machines() if m.busy)
        completed = self.tally.completed
        return QueueStats(
            ready=ready, in_flight=in_flight, published=completed + ready + in_flight,
            completed=completed, service_s_total=self.tally.service_s_total,
            response_s_total=self.tally.response_s_total,
        )
