"""RabbitMQ closing connections in the middle of a live replay: every client reconnects,
every job completes, each counted once by its id; jobs done twice because of a redelivery
are recognised as duplicates, not counted (nor billed) twice."""

from __future__ import annotations

import collections
import threading

import pytest
from it_support import LiveRig, write_trace
from polling import collect_until

from imgproc.adapters.rabbit import RabbitResultFeed
from imgproc.adapters.trace_files import read_trace
from imgproc.bootstrap.live import build_live_replay, child_processes, on_trace_clock_from_now
from imgproc.bootstrap.sim import summarise_run
from imgproc.core.clock import ClockSettings
from imgproc.core.machines import MachineState
from imgproc.core.results import ResultTally
from imgproc.core.scaler import ScalerLimits
from imgproc.settings import ProviderSettings, Settings

pytestmark = pytest.mark.services
S = MachineState
JOBS = 40
SERVICE_S = 4.8
SPEED = 4.0
SIZE = 4
DELIVERY_LIMIT = 10


class ReplayThread:
    """The live replay on a thread, its deployer and scaler shown in (and stopped by) the rig."""

    def __init__(self, rig: LiveRig, settings: Settings, trace, grace_s: float) -> None:
        settings = on_trace_clock_from_now(settings)  # one trace clock for the whole run
        children = child_processes(settings)
        rig.processes.extend(children)
        self.replay = build_live_replay(settings, trace, components=children, grace_s=grace_s)
        self.record = None
        self.error: BaseException | None = None

    def start(self) -> threading.Thread:
        def run() -> None:
            try:
                self.record = self.replay.run()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.error = exc

        thread = threading.Thread(target=run, daemon=True, name="live-replay")
        thread.start()
        return thread


def test_connections_closed_by_the_broker_lose_no_job_and_count_none_twice(rig):
    # 40 jobs of 4.8 trace seconds (1.2 s at speed 4) arriving over 10 s on 4 workers: they
    # stay busy throughout.
    path = rig.tmp_path / "drops.jsonl"
    write_trace(path, JOBS, every_s=1.0, service_s=SERVICE_S)
    trace = read_trace(path).trace
    # A job in a worker's hands goes back to the queue at each closed connection, and each
    # counts towards the delivery limit (the poison-job guard: test_it_poison_job.py); this
    # test closes connections three times over, so its limit is out of their reach.
    rabbit = rig.rabbit.model_copy(update={"delivery_limit": DELIVERY_LIMIT})
    settings = Settings(
        policy="constantsize", policy_params={"size": SIZE},
        rabbit=rabbit, zk=rig.zk, scaler=ScalerLimits(interval_s=2.0),
        clock=ClockSettings(speed=SPEED),
        provider=ProviderSettings(state_dir=rig.state_dir, drain_timeout_s=20),
    )
    # every result published, counted apart from the replay
    witness = rig.keep(RabbitResultFeed(rabbit, durable=True))
    spared = set(rig.connections())  # the witness's own connection
    running = ReplayThread(rig, settings, trace, grace_s=240)
    replay = running.replay
    expected = {replay.prefix + job_id for job_id in trace.ids}
    runner = running.start()

    # First, while jobs are being submitted: the replay's publisher (and its command bus).
    rig.wait_for(lambda: replay.submitted >= 2 and any(
        n.startswith("imgproc-replay ") for n in rig.connections()),
        "the replay to be submitting", 30, poll_s=0.05)
    publisher = {n: p for n, p in rig.connections().items() if n.startswith("imgproc-replay ")}
    rig.close_connections(publisher)
    rig.check(replay.submitted < JOBS, "the publisher should lose its connection mid-submission")

    # Then, while workers serve: the job sources of busy workers (each holds a job, which
    # the broker hands out again) and every worker's result sink.
    rig.wait_for(lambda: sum(m.busy for m in rig.machines()) >= 2, "two workers busy", 30,
                 poll_s=0.05)
    busy = {m.id for m in rig.machines() if m.busy}
    workers = {n: p for n, p in rig.connections().items()
               if n.startswith("imgproc-result-sink-")
               or any(n.startswith(f"imgproc-worker {m}-") for m in busy)}
    rig.check(sum(n.startswith("imgproc-worker ") for n in workers) >= 2,
              f"two busy workers should be connected: {workers}")
    rig.close_connections(workers)

    # Each of them connects again under its own name while the run goes on.
    closed = {**publisher, **workers}

    def reconnected():
        now = rig.connections()
        return all(now.get(name, pid) != pid for name, pid in closed.items())

    rig.wait_for(reconnected, f"{sorted(closed)} to reconnect", 20, poll_s=0.3)

    # Last, before the run ends: every connection of the run (deployer, scaler, workers,
    # the replay's own result feed), but not the witness feed.
    rig.check(runner.is_alive(), "the run should still be going for the last round")
    every = {n: p for n, p in rig.connections().items() if n not in spared}
    rig.check(any(n.startswith("imgproc-deployer-") for n in every),
              f"the deployer should be connected: {every}")
    rig.close_connections(every)

    runner.join(timeout=120)
    rig.check(not runner.is_alive(), "the replay did not finish within 120 s")
    rig.check(running.error is None, f"the replay failed: {running.error!r}")
    record = running.record

    # Every job completed, each counted once by its id.
    assert set(replay.tally.results) == expected
    assert replay.tally.failed == 0
    assert record.jobs.duplicates == replay.tally.duplicates
    summary = summarise_run(settings, trace, record).summary
    assert summary["jobs_completed"] == JOBS and summary["jobs_lost"] == 0, summary
    assert summary["work_seconds"] == pytest.approx(JOBS * SERVICE_S), "once per job"
    assert summary["speed"] == SPEED

    # What was really published: at least one result per job, and the jobs whose busy
    # worker lost its connection were done twice, which the tally recognises.
    seen = collections.Counter()
    witness_tally = ResultTally()
    for result in collect_until(lambda: witness.poll_results(0.2), quiet_s=1.0):
        seen[result.job_id] += 1
        witness_tally.add(result)
    assert set(seen) == expected
    assert witness_tally.completed == JOBS
    assert witness_tally.duplicates == sum(seen.values()) - JOBS
    rig.check(witness_tally.duplicates >= 1,
              f"a busy worker's connection was closed, its job must have been done twice: {seen}")
    # The replay saw duplicates too (those, and results redelivered to its own feed) and
    # counted them apart: completions stay one per job.
    rig.check(replay.tally.duplicates >= 1 and summary["duplicates"] == replay.tally.duplicates,
              f"duplicates: replay {replay.tally.duplicates}, summary {summary['duplicates']}")

    # Nothing left behind: machines, workers, messages.
    assert rig.machines(S.PREPARING, S.BOOTING, S.RUNNING, S.DRAINING, S.DESTROYING) == []
    assert rig.worker_processes() == []
    leftovers = rig.messages_left(ignore=(witness.queue_name,))
    rig.check(leftovers == {}, f"messages left in queues: {leftovers}")
