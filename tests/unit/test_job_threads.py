"""The worker's job thread: jobs one after another on one thread, and a new thread for the
job after one that was abandoned (still running), so that it never queues behind it."""

from __future__ import annotations

import threading

from imgproc.adapters.job_threads import JobThread


def test_jobs_run_one_after_another_on_one_thread_off_the_callers():
    runner = JobThread("t")
    names = [runner.submit(lambda: threading.current_thread().name).result(5) for _ in range(3)]
    assert names == ["t-1", "t-1", "t-1"]
    assert threading.current_thread().name not in names


def test_a_job_submitted_while_the_last_still_runs_gets_a_new_thread():
    runner = JobThread("t")
    release = threading.Event()
    stuck = runner.submit(release.wait)
    assert runner.submit(lambda: threading.current_thread().name).result(5) == "t-2"
    release.set()
    assert stuck.result(5) is True
    assert runner.submit(lambda: threading.current_thread().name).result(5) == "t-2"


def test_an_exception_is_handed_to_the_future_and_the_thread_goes_on():
    runner = JobThread("t")
    failed = runner.submit(lambda: 1 / 0)
    assert isinstance(failed.exception(5), ZeroDivisionError)
    assert runner.submit(lambda: 42).result(5) == 42
