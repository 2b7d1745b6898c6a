"""``imgproc workload``: generate, convert, validate and describe trace files.

Thin: options are turned into a :class:`GeneratorSpec` or a file read, the
work is done in :mod:`imgproc.core.workload_gen` and
:mod:`imgproc.adapters.trace_files`, and every expected failure (bad option,
missing file, invalid line) becomes a :class:`click.ClickException` whose
message names the file, line, field and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, get_args

import click

from imgproc.adapters.trace_files import read_trace, write_trace
from imgproc.core.errors import ConfigurationError, TraceValidationFailed
from imgproc.core.sim.step_bound import step_bounds
from imgproc.core.trace import Trace
from imgproc.core.trace_format import ParsedTrace
from imgproc.core.workload_gen import (
    ServiceDist,
    Shape,
    TraceSummary,
    generate,
    make_spec,
    summarise,
)

SHAPE_KNOBS = (
    ("--burst-start", "burst_start_s", "burst: seconds before the burst [60]"),
    ("--burst-length", "burst_length_s", "burst: length of the burst in seconds [60]"),
    ("--burst-factor", "burst_factor", "burst: rate multiplier during the burst [5]"),
    ("--period", "diurnal_period_s", "diurnal: seconds per cycle [the duration]"),
    ("--amplitude", "diurnal_amplitude", "diurnal: relative swing, 0..1 [0.8]"),
    ("--flash-at", "flash_at_s", "flash-crowd: second of the spike [a quarter of the duration]"),
    ("--peak-factor", "flash_peak_factor", "flash-crowd: rate multiplier at the spike [10]"),
    ("--decay", "flash_decay_s", "flash-crowd: decay time constant in seconds [60]"),
    ("--end-factor", "ramp_end_factor", "ramp: rate multiplier at the end [5]"),
    ("--on", "on_s", "on-off: seconds on [120]"),
    ("--off", "off_s", "on-off: seconds off [120]"),
    ("--sigma", "lognormal_sigma", "lognormal service: sigma [1]"),
    ("--alpha", "pareto_alpha", "pareto service: tail index, > 1 [2.5]"),
)


@contextmanager
def _reported() -> Iterator[None]:
    """Expected failures as a one-message exit, without a traceback."""
    try:
        yield
    except (ConfigurationError, TraceValidationFailed) as exc:
        raise click.ClickException(str(exc)) from exc


def _knob_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for flag, name, help_text in reversed(SHAPE_KNOBS):
        command = click.option(flag, name, type=float, default=None, help=help_text)(command)
    return command


@click.group()
def workload() -> None:
    """Workload traces: make, convert, check and describe them."""


@workload.command(name="generate")
@click.option("--shape", type=click.Choice(get_args(Shape)), default="normal", show_default=True)
@click.option("--duration", type=float, default=1200.0, show_default=True, help="seconds")
@click.option("--rate", type=float, default=5.0, show_default=True, help="base jobs/s")
@click.option("--service-mean", type=float, default=0.2, show_default=True, help="seconds")
@click.option(
    "--service-dist", type=click.Choice(get_args(ServiceDist)), default="normal", show_default=True
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--name", default=None, help="job id prefix and trace name [the shape]")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@_knob_options
def generate_cmd(**options: Any) -> None:
    """Generate a synthetic trace and write it in our JSON-lines format."""
    out = options.pop("out")
    knobs = {name: options.pop(name) for _, name, _ in SHAPE_KNOBS}
    with _reported():
        spec = make_spec(
            shape=options["shape"],
            duration_s=options["duration"],
            rate=options["rate"],
            service_mean_s=options["service_mean"],
            service_dist=options["service_dist"],
            seed=options["seed"],
            name=options["name"],
            **{name: value for name, value in knobs.items() if value is not None},
        )
        trace = generate(spec)
        write_trace(trace, out)
    click.echo(f"{out}: {_one_line(summarise(trace))}")


@workload.command()
@click.argument("seed_log", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--name", default=None, help="job id prefix and trace name [the output's stem]")
def convert(seed_log: Path, out: Path, name: str | None) -> None:
    """Convert a 2012 seed workload log (microseconds) to our format (seconds)."""
    with _reported():
        parsed = read_trace(seed_log, fmt="seed")
        trace = _renamed(parsed.trace, name or out.stem)
        write_trace(trace, out)
    click.echo(f"{out}: {_one_line(summarise(trace))}")


def _renamed(trace: Trace, name: str) -> Trace:
    """The same jobs with ids ``<name>-000001``... and the trace called ``name``."""
    ids = [f"{name}-{i:06d}" for i in range(1, len(trace) + 1)]
    return Trace(name, ids, trace.arrival_s, trace.service_s, trace.users, dict(trace.extras))


@workload.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="report bad lines but accept the rest")
def validate(file: Path, skip_invalid: bool) -> None:
    """Check every line of a trace; exit 1 if any is invalid."""
    try:
        parsed = read_trace(file, skip_invalid=skip_invalid)
    except TraceValidationFailed as failure:
        for error in failure.errors:
            click.echo(str(error))
        raise click.ClickException(f"{file}: {len(failure.errors)} invalid line(s)") from failure
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    for error in parsed.skipped:
        click.echo(f"skipped {error}")
    click.echo(f"OK {file}: {_counts(parsed)}")


def _counts(parsed: ParsedTrace) -> str:
    text = f"{len(parsed.trace)} jobs, {parsed.trace.duration_s:.3f} s"
    return text + (f", {len(parsed.skipped)} invalid line(s) skipped" if parsed.skipped else "")


@workload.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--window", type=float, default=10.0, show_default=True, help="peak-rate window, s")
def info(file: Path, window: float) -> None:
    """Describe a trace: jobs, duration, rates, service times, total work."""
    if window <= 0:
        raise click.BadParameter("expected a positive number of seconds", param_hint="--window")
    with _reported():
        summary = summarise(read_trace(file).trace, window_s=window)
    for label, value in _info_rows(summary):
        click.echo(f"{label:<16}{value}")


def _info_rows(s: TraceSummary) -> list[tuple[str, str]]:
    rows = [
        ("jobs", f"{s.jobs}"),
        ("duration", f"{s.duration_s:.3f} s"),
        ("mean rate", f"{s.mean_rate:.3f} jobs/s"),
        ("peak rate", f"{s.peak_rate:.3f} jobs/s (busiest {s.window_s:g} s window)"),
        ("service mean", _seconds(s.service_mean_s)),
        ("service p50", _seconds(s.service_p50_s)),
        ("service p95", _seconds(s.service_p95_s)),
        ("total work", f"{s.work_s:.3f} s"),
    ]
    if s.unknown_service:
        rows.append(("unknown service", f"{s.unknown_service} job(s) with ops and no service_s"))
    return rows


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.6f} s"


def _one_line(s: TraceSummary) -> str:
    return (
        f"{s.jobs} jobs over {s.duration_s:.3f} s, mean rate {s.mean_rate:.3f} jobs/s, "
        f"total work {s.work_s:.3f} s"
    )


@workload.command(name="step-bound")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--onset", type=click.FloatRange(min=0), required=True,
              help="second at which the trace's step of load begins")
@click.option("--boot-delay", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="seconds from asking for a machine to its serving")
@click.option("--slo", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="response-time objective, s")
@click.option("--share", type=click.FloatRange(0, 1), default=0.95, show_default=True,
              help="share of jobs to keep within the objective")
@click.option("--window", type=click.FloatRange(min=0, min_open=True), default=None,
              help="seconds in which the step could have come [the trace's duration less the "
                   "boot delay and the objective]")
def step_bound(file: Path, onset: float, boot_delay: float, slo: float, share: float,
               window: float | None) -> None:
    """What no online policy can beat on a step it cannot foresee: the most jobs within
    the objective for each number of machines at the step (docs/policies.md)."""
    for name, value in (("--onset", onset), ("--boot-delay", boot_delay), ("--slo", slo),
                        ("--share", share), ("--window", window)):
        if value is not None and not math.isfinite(value):
            raise click.BadParameter(f"expected a finite number, got {value}", param_hint=name)
    with _reported():
        trace = read_trace(file).trace
        window = _step_window(file, trace, onset, boot_delay, slo, window)
        bounds = step_bounds(trace, onset, boot_delay, slo, share)
    click.echo(f"{trace.name}: {len(trace)} jobs; a step at {onset:g} s, boot delay "
               f"{boot_delay:g} s, objective {slo:g} s, window {window:g} s")
    click.echo(f"{'machines at the step':<22}{'at most within objective':<26}"
               "VM-s to keep them over the window")
    for bound in bounds:
        share_text = f"{math.floor(bound.share * 10_000) / 100:.2f} %"  # never rounded up
        click.echo(f"{bound.machines:<22}{share_text:<26}{bound.machines * window:,.0f}")
    last = bounds[-1]
    if last.share < share:
        click.echo(f"{share * 100:g} % is out of reach: jobs longer than the objective are late "
                   "however many machines there are")
        return
    click.echo(f"{share * 100:g} % needs {last.machines} machine(s) at the step; a policy "
               "that cannot tell when the step comes spends at least "
               f"{last.machines * window:,.0f} VM-s over the window")


def _step_window(file: Path, trace: Trace, onset: float, boot_delay: float, slo: float,
                 window: float | None) -> float:
    """The window given, or the trace less its last boot delay and objective: a step in
    it has the jobs it makes late inside the trace."""
    if not len(trace) or onset >= float(trace.arrival_s[-1]):
        last = f"{float(trace.arrival_s[-1]):g} s" if len(trace) else "none: it has no job"
        raise ConfigurationError(
            f"{file}: the step (--onset {onset:g}) must come before the trace's last "
            f"arrival ({last})")
    window = window or trace.duration_s - boot_delay - slo
    if window <= 0:
        raise ConfigurationError(
            f"{file}: the trace ({trace.duration_s:g} s) is no longer than the boot delay "
            "and the objective: no window is left for the step; give --window")
    return window
