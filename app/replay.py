"""Headless replay of a trace: read it, run it, summarise it, optionally report."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from imgproc.adapters.trace_files import read_trace
from imgproc.bootstrap import RunResult, build_simulation, summarise_run
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
    if settings.backend == "live":
        raise click.ClickException("the live backend is not built yet (issue 3); use --backend sim")
    try:
        parsed = read_trace(path, skip_invalid=skip_invalid)
        for skipped in parsed.skipped:
            console.print(f"skipped {skipped}", markup=False, highlight=False, soft_wrap=True)
        trace = parsed.trace
        with RunProgress(len(trace), f"{trace.name} · {settings.policy}", console) as progress:
            sim = build_simulation(
                settings, trace, on_sample=lambda s: progress.update(s.completed, s.now)
            )
            result = summarise_run(settings, trace, sim.run())
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    if report_dir is not None:
        from imgproc.adapters.report_files import write_report

        _, demand, _ = demand_and_supply(
            result.record, trace.arrival_s, trace.service_s,
            slo_s=settings.slo_s, window_s=settings.demand_window_s,
        )
        write_report(report_dir, result.record, result.summary, demand)
    return result
