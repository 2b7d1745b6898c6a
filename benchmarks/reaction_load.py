"""The reaction benchmark's load and observations (bench_reaction.py): :class:`Load` publishes
simulated jobs at a settable rate from its own thread; :class:`Observed` keeps the results and
the deployer's reports seen so far.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from imgproc.adapters.rabbit import RabbitJobPublisher
from imgproc.core.messages import JobMessage, ResultMessage, StateReport
from imgproc.settings import Settings


class Load:
    """Publishes simulated jobs at ``rate`` per second (evenly spaced) from its own thread."""

    def __init__(self, settings: Settings, run_id: str, service_s: float, rate: float) -> None:
        self.settings = settings
        self.run_id = run_id
        self.service_s = service_s
        self.rate = rate
        self.phase = "steady"
        self.published: list[tuple[str, str, float]] = []  # job id, phase, publish time
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def set(self, rate: float, phase: str) -> None:
        self.rate, self.phase = rate, phase

    def _run(self) -> None:
        publisher = RabbitJobPublisher(self.settings.rabbit, role=f"bench-load {self.run_id}")
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                due += 1.0 / self.rate
                wait = due - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    break
                index = len(self.published)
                job_id = f"{self.run_id}-{index}"
                phase = self.phase
                now = time.time()
                publisher.publish(JobMessage(job_id=job_id, submitted_at=now,
                                             service_s=self.service_s))
                self.published.append((job_id, phase, now))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
        finally:
            publisher.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@dataclass
class Observed:
    """Everything seen so far: results, the deployer's reports, machine records."""

    results: dict[str, ResultMessage] = field(default_factory=dict)
    reports: dict[str, dict[str, float]] = field(default_factory=dict)  # machine -> state -> at

    def add_report(self, report: StateReport) -> None:
        self.reports.setdefault(report.machine_id, {}).setdefault(report.state, report.at)
