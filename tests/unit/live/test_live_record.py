"""Turning what a live run left behind into a run record in the run's own clock."""

from __future__ import annotations

import math

import numpy as np

from imgproc.core.image_ops import Thumbnail
from imgproc.core.jobs import Job
from imgproc.core.machines import Machine, MachineState
from imgproc.core.messages import ResultMessage, StateReport
from imgproc.core.metrics.record import MachineSpan
from imgproc.core.results import ResultTally
from imgproc.core.trace import Trace
from imgproc.live.record import job_outcomes, machine_spans, scaling_actions

S = MachineState
THUMB = (Thumbnail(op="thumbnail", size=64),)
T0 = 1000.0


def trace() -> Trace:
    return Trace.from_jobs("t", [
        Job("a", arrival_s=0.0, service_s=4.0),
        Job("b", arrival_s=2.0, service_s=2.0),
        Job("c", arrival_s=4.0, service_s=6.0, ops=THUMB, input="in.jpg", output="out.jpg"),
        Job("d", arrival_s=6.0, service_s=None, ops=THUMB, input="x.jpg", output="y.jpg"),
        Job("e", arrival_s=8.0, service_s=8.0, input="only-a-path.jpg"),  # no ops: simulated
    ])


def result(job_id: str, submitted: float, started: float, finished: float,
           status: str = "done") -> ResultMessage:
    return ResultMessage(job_id=job_id, worker="w1", submitted_at=T0 + submitted,
                         started_at=T0 + started, finished_at=T0 + finished, status=status)


# ---- job_outcomes ------------------------------------------------------------------


def test_job_outcomes_take_each_jobs_times_from_its_result_relative_to_the_start():
    tally = ResultTally()
    tally.add(result("run1-a", submitted=0.1, started=0.2, finished=2.2))
    tally.add(result("run1-b", submitted=1.0, started=1.5, finished=2.5, status="failed"))
    tally.add(result("run1-c", submitted=2.0, started=2.5, finished=8.5))
    tally.add(result("run1-a", submitted=0.1, started=3.0, finished=5.0))  # a duplicate
    tally.add(result("e", submitted=4.0, started=4.0, finished=9.0))  # another run's job

    jobs = job_outcomes(trace(), tally, "run1-", T0)

    np.testing.assert_allclose(jobs.submit_s, [0.1, 1.0, 2.0, 6.0, 8.0])
    np.testing.assert_allclose(jobs.start_s[:3], [0.2, 1.5, 2.5])
    np.testing.assert_allclose(jobs.end_s[:3], [2.2, 2.5, 8.5])
    assert jobs.failed.tolist() == [False, True, False, False, False]
    # in trace seconds, as the trace has them: every component ran on the trace's clock
    np.testing.assert_array_equal(jobs.service_s, [4.0, 2.0, 6.0, math.nan, 8.0])
    assert jobs.duplicates == 1


def test_a_job_without_a_result_is_lost_its_times_unknown_and_its_submission_as_planned():
    jobs = job_outcomes(trace(), ResultTally(), "run1-", T0)

    assert np.isnan(jobs.start_s).all() and np.isnan(jobs.end_s).all()
    np.testing.assert_array_equal(jobs.submit_s, [0.0, 2.0, 4.0, 6.0, 8.0])
    assert not jobs.failed.any()
    assert jobs.duplicates == 0


# ---- machine_spans -----------------------------------------------------------------


def test_a_machine_span_runs_from_the_request_through_ready_to_destroyed():
    machines = [
        Machine("done", S.DESTROYED, T0 + 1.0, T0 + 30.0, details={"ready_at": T0 + 4.5}),
        Machine("serving", S.RUNNING, T0 + 2.0, T0 + 6.0, details={"ready_at": T0 + 6.0}),
        Machine("booting", S.BOOTING, T0 + 3.0, T0 + 3.5),
        Machine("broken", S.DESTROYED, T0 + 5.0, T0 + 9.0, reason="could not start: no disk"),
    ]

    spans = machine_spans(machines, T0)

    assert spans == [
        MachineSpan("done", requested_at=1.0, ready_at=4.5, released_at=30.0, failed=False),
        MachineSpan("serving", requested_at=2.0, ready_at=6.0, released_at=None, failed=False),
        MachineSpan("booting", requested_at=3.0, ready_at=None, released_at=None, failed=False),
        MachineSpan("broken", requested_at=5.0, ready_at=None, released_at=9.0, failed=True),
    ]


# ---- scaling_actions ---------------------------------------------------------------


def report(machine_id: str, state: str, at: float) -> StateReport:
    return StateReport(machine_id=machine_id, state=state, at=T0 + at)


def test_scaling_actions_count_distinct_request_seconds_and_first_releases_before_teardown():
    machines = [
        Machine("m1", S.DESTROYED, T0 + 10.2, T0 + 40.0),
        Machine("m2", S.DESTROYED, T0 + 10.4, T0 + 41.0),   # same round as m1
        Machine("m3", S.DESTROYED, T0 + 12.0, T0 + 42.0),
        Machine("m4", S.DESTROYED, T0 + 13.1, T0 + 90.0),
    ]
    reports = [
        report("m1", "booting", 10.3),
        report("m1", "running", 15.0),
        report("m1", "draining", 20.1),
        report("m1", "destroying", 24.0),    # the same release, later
        report("m2", "destroying", 20.2),    # booting machines skip draining: same round
        report("m3", "draining", 30.0),
        report("m4", "draining", 61.0),      # the final teardown, not the policy
        report("m4", "destroying", 62.0),
    ]

    assert scaling_actions(machines, reports, until=T0 + 60.0, interval_s=2.0) == 3 + 2


def test_a_rounds_requests_spread_over_a_second_boundary_are_still_one_action():
    # at speed 10 a round's few tens of milliseconds are tenths of a trace second
    machines = [Machine(f"m{i}", S.RUNNING, T0 + at, T0 + 50.0)
                for i, at in enumerate([10.3, 10.5, 10.7, 20.4, 20.6])]

    assert scaling_actions(machines, [], until=T0 + 60.0, interval_s=10.0) == 2


def test_a_run_with_no_machines_took_no_scaling_action():
    assert scaling_actions([], [], until=T0, interval_s=10.0) == 0
