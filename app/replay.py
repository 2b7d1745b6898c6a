"""Headless replay of a trace: read it, run it, summarise it, optionally report.

A live replay stopped by SIGTERM, SIGINT or SIGHUP cleans up as at its end, then exits
with status 128 + the signal's number, as a command killed by it would.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from rich.console import Console

from imgproc.adapters.trace_files import read_trace
from imgproc.bootstrap.sim import RunResult, build_simulation, summarise_run
from imgproc.core.errors import ImgprocError
from imgproc.core.metrics.summary import demand_and_supply
from imgproc.progress import RunProgress
from imgproc.settings import Settings


def replay_trace(
    settings: Settings,
    path: Path,
    skip_invalid: bool = False,
    console: Console | None = None,
    report_dir: Path | None = None,
) -> RunResult:
    """Replay ``path`` on the configured backend; errors become click errors."""
    console = console or Console(stderr=True)
    try:
        parsed = read_trace(path, skip_invalid=skip_invalid)
        for skipped in parsed.skipped:
            console.print(f"skipped {skipped}", markup=False, highlight=False, soft_wrap=True)
        trace = parsed.trace
        label = f"{trace.name} · {settings.policy} · {settings.backend or 'sim'}"
        with RunProgress(len(trace), label, console) as progress:
            if settings.backend == "live":
                result = _live(settings, trace, progress)
            else:
                sim = build_simulation(
                    settings, trace, on_sample=lambda s: progress.update(s.completed, s.now)
                )
                result = summarise_run(settings, trace, sim.run())
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    if report_dir is not None:
        from imgproc.adapters.report_files import write_report

        _, demand, _ = demand_and_supply(
            result.record, result.record.jobs.submit_s, result.record.jobs.service_s,
            slo_s=settings.slo_s, window_s=settings.demand_window_s,
        )
        write_report(report_dir, result.record, result.summary, demand)
    return result


def _live(settings: Settings, trace, progress: RunProgress) -> RunResult:
    """Replay on the real services; metrics in trace seconds, whatever the speed."""
    from imgproc.bootstrap.live import build_live_replay
    from imgproc.live.replay import LiveReplayInterrupted
    from imgproc.live.signals import stopped_by_signals

    stop = threading.Event()
    with stopped_by_signals(stop) as caught:
        replay = build_live_replay(settings, trace, stop=stop,
                                   on_sample=lambda done, _total, now: progress.update(done, now))
        try:
            record = replay.run()
        except LiveReplayInterrupted as exc:
            raise _interrupted(caught(), exc) from exc
    return summarise_run(settings, trace, record)


def _interrupted(signum: signal.Signals | None, cause: ImgprocError) -> click.exceptions.Exit:
    """Say why the replay stopped; the exit a command killed by ``signum`` would have."""
    click.echo(f"{signum.name if signum else 'stopped'}: {cause}", err=True)
    return click.exceptions.Exit(128 + signum if signum else 1)
