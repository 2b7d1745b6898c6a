"""``imgproc compare``: a table of every policy on every trace, against the oracle."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import click
from rich.console import Console
from rich.table import Table

from imgproc.adapters.trace_files import read_trace
from imgproc.cli.workload import SHAPE_KNOBS
from imgproc.core.errors import ImgprocError
from imgproc.core.policies import get_spec, policy_names
from imgproc.core.workload_gen import GeneratorSpec, make_spec
from imgproc.options import cold_start_option, run_flags, run_options, settings_from_flags

COLUMNS = (
    ("policy", "policy"), ("p50 s", "response_p50_s"), ("p95 s", "response_p95_s"),
    ("p99 s", "response_p99_s"), ("in SLO", "slo_met_share"), ("VM-s", "vm_seconds"),
    ("x o95", "cost_vs_oracle95"), ("billed h", "billed_hours"), ("mean m", "machines_mean"),
    ("peak m", "machines_peak"), ("actions", "scaling_actions"), ("a_U", "a_u"), ("a_O", "a_o"),
    ("jitter", "jitter"), ("lost", "jobs_lost"),
)
#: ``--generate`` keys: ``imgproc workload generate``'s options without their dashes.
GENERATE_KEYS = MappingProxyType({
    "shape": "shape", "duration": "duration_s", "rate": "rate",
    "service-mean": "service_mean_s", "service-dist": "service_dist", "seed": "seed",
    "name": "name", **{flag.removeprefix("--"): name for flag, name, _ in SHAPE_KNOBS}})
GENERATE_DEFAULTS = MappingProxyType({"duration_s": 1200.0, "rate": 5.0, "service_mean_s": 0.2,
                                      "seed": 1})
_TEXT_KEYS = ("shape", "service_dist", "name")


def parse_generate(text: str) -> GeneratorSpec:
    """A ``--generate`` value, ``KEY=VALUE,KEY=VALUE...``, as a generator spec."""
    values: dict[str, object] = dict(GENERATE_DEFAULTS)
    given: set[str] = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        key = key.strip().replace("_", "-")
        if not sep or key not in GENERATE_KEYS:
            raise click.BadParameter(
                f"{item!r}: expected KEY=VALUE with KEY one of {', '.join(GENERATE_KEYS)} "
                "(the options of `imgproc workload generate`)", param_hint="--generate")
        if key in given:
            raise click.BadParameter(f"{key}: given twice in {text!r}", param_hint="--generate")
        given.add(key)
        values[GENERATE_KEYS[key]] = _generate_value(key, GENERATE_KEYS[key], raw.strip())
    try:
        return make_spec(**values)
    except ImgprocError as exc:
        raise click.BadParameter(str(exc), param_hint="--generate") from exc


def _generate_value(key: str, name: str, raw: str) -> object:
    if name in _TEXT_KEYS:
        return raw
    try:
        return int(raw) if name == "seed" else float(raw)
    except ValueError:
        kind = "a whole number" if name == "seed" else "a number"
        raise click.BadParameter(f"{key}: expected {kind}, got {raw!r}",
                                 param_hint="--generate") from None


@click.command()
@click.argument("traces", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--generate", "specs", multiple=True, metavar="KEY=VALUE,...",
              help="Also a generated trace, e.g. shape=flash-crowd,duration=1200,rate=5 "
                   "(the options of `imgproc workload generate`; defaults: duration=1200, "
                   "rate=5, service-mean=0.2, seed=1); repeat for more.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run everything this many times, the k-th (from 0) with the simulator's "
                   "seed and every generated trace's seed plus k, and report each metric's "
                   "mean and 95 % confidence interval.")
@click.option("--policies", default="all", show_default=True,
              help="Comma-separated policy names, or 'all'.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as one JSON array.")
@click.option("--markdown", is_flag=True, help="Print the table as Markdown (for docs).")
@cold_start_option
@run_options
def compare(traces, specs, seeds, policies, as_json, markdown, config, cold_start,
            **run) -> None:
    """Run every policy on every trace in the simulator and compare them with the oracle."""
    from imgproc.compare import replicate

    if not traces and not specs:
        raise click.UsageError("give trace files, --generate specs, or both")
    generated = [parse_generate(text) for text in specs]
    _check_names([p.stem for p in traces], [spec.prefix for spec in generated])
    settings = settings_from_flags(config, **run_flags(**run, cold_start=cold_start))
    names = (policy_names() if policies == "all"
             else [p.strip() for p in policies.split(",") if p.strip()])
    try:
        for name in names:
            get_spec(name)
        loaded = [read_trace(path).trace for path in traces]
        result = replicate(settings, loaded, generated, names, seeds)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.rows))
        return
    if markdown:
        click.echo(_markdown(result.rows))
        return
    console = Console() if Console().is_terminal else Console(width=220)
    console.print(_table(result.rows, settings.slo_s, settings.sim.boot_delay_s,
                         settings.sim.warm_start, seeds))


def _check_names(files: list[str], generated: list[str]) -> None:
    """Rows are told apart by trace name: two traces of one name would mix theirs."""
    names = [*files, *generated]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise click.BadParameter(f"two traces would be called {', '.join(twice)}: give each "
                                 "generated one its own name=..., and files their own names",
                                 param_hint="--generate")


def _table(rows: list[dict], slo_s: float, boot_delay_s: float, warm: bool,
           seeds: int) -> Table:
    start = "warm start" if warm else "cold start"
    runs = f" · mean ± 95 % CI of {seeds} runs" if seeds > 1 else ""
    table = Table(title=f"objective {slo_s} s · boot delay {boot_delay_s} s · {start} · "
                        f"simulator{runs}")
    table.add_column("trace")
    for header, _ in COLUMNS:
        table.add_column(header, justify="left" if header == "policy" else "right")
    last_trace = None
    for row in rows:
        trace = row["trace"] if row["trace"] != last_trace else ""
        if trace and last_trace is not None:
            table.add_section()
        last_trace = row["trace"]
        table.add_row(trace, *[_cell(row, key) for _, key in COLUMNS])
    return table


def _cell(row: dict, key: str) -> str:
    text = _number(row.get(key))
    half = row.get("ci95", {}).get(key)
    return f"{text} ± {_number(half)}" if half is not None else text


def _number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _markdown(rows: list[dict]) -> str:
    lines = ["| trace | " + " | ".join(h for h, _ in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [_cell(row, key) for _, key in COLUMNS]
        lines.append(f"| {row['trace']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
