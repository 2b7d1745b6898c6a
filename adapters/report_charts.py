"""PNG charts of a run: the seed's Graphite graphs, with the demand and the objective drawn in."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from imgproc.core.metrics.record import RunRecord

STATE_COLOURS = {
    "preparing": "#c7d7ef",
    "booting": "#8fb3e0",
    "running": "#2f6db5",
    "draining": "#f0a35e",
    "destroying": "#d9534f",
}


def draw_charts(
    directory: Path, record: RunRecord, summary: dict, demand: np.ndarray | None
) -> list[Path]:
    """Draw each chart on its own and all four on one overview page."""
    drawers = {
        "queue.png": _queue,
        "rates.png": _rates,
        "machines.png": lambda ax, r: _machines(ax, r, demand),
        "response.png": lambda ax, r: _responses(ax, r, summary.get("slo_s")),
    }
    written = []
    for name, draw in drawers.items():
        fig, ax = plt.subplots(figsize=(10, 3.6), dpi=110)
        draw(ax, record)
        _finish(fig, ax, record)
        written.append(_save(fig, directory / name))
    fig, axes = plt.subplots(4, 1, figsize=(11, 13), dpi=100, sharex=True)
    for ax, draw in zip(axes, drawers.values(), strict=True):
        draw(ax, record)
        ax.grid(alpha=0.3)
    fig.suptitle(_title(record, summary))
    axes[-1].set_xlabel("time (s)")
    written.append(_save(fig, directory / "overview.png"))
    return written


def _title(record: RunRecord, summary: dict) -> str:
    p95 = summary.get("response_p95_s")
    vm = summary.get("vm_seconds")
    return f"{record.trace} · policy {record.policy} · {record.backend} · p95 {p95} s · {vm} VM-s"


def _finish(fig, ax, record: RunRecord) -> None:
    ax.set_xlabel("time (s)")
    ax.grid(alpha=0.3)
    ax.set_title(f"{record.trace} · {record.policy}", fontsize=9, loc="right")
    fig.tight_layout()


def _save(fig, path: Path) -> Path:
    fig.savefig(path)
    plt.close(fig)
    return path


def _queue(ax, record: RunRecord) -> None:
    s = record.series
    t = s.column("t")
    ax.stackplot(t, s.column("ready"), s.column("in_flight"), labels=["ready", "in flight"],
                 colors=["#e8a33d", "#5b8fd1"], alpha=0.85)
    ax.set_ylabel("jobs in queue")
    ax.legend(loc="upper right", fontsize=8)


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    if len(values) < width or width <= 1:
        return values
    kernel = np.ones(width) / width
    return np.convolve(values, kernel, mode="same")


def _rates(ax, record: RunRecord) -> None:
    s = record.series
    t, step = s.column("t"), s.step_s
    width = max(1, round(10 / step))
    ax.plot(t, _smooth(s.column("arrivals") / step, width), label="arrivals/s (10 s mean)",
            color="#e8a33d")
    ax.plot(t, _smooth(s.column("completions") / step, width), label="completions/s (10 s mean)",
            color="#2f6db5")
    ax.set_ylabel("jobs per second")
    ax.legend(loc="upper right", fontsize=8)


def _machines(ax, record: RunRecord, demand: np.ndarray | None) -> None:
    s = record.series
    t = s.column("t")
    states = list(STATE_COLOURS)
    ax.stackplot(t, *[s.column(k) for k in states], labels=states,
                 colors=[STATE_COLOURS[k] for k in states], step="post")
    if demand is not None and len(demand) == len(t):
        ax.step(t, demand, where="post", color="black", linewidth=1, label="demand d(t)")
    ax.set_ylabel("machines")
    ax.legend(loc="upper right", fontsize=8, ncol=3)


def _responses(ax, record: RunRecord, slo_s: float | None) -> None:
    jobs = record.jobs
    done = ~np.isnan(jobs.end_s)
    submit = jobs.submit_s[done]
    response = (jobs.end_s - jobs.submit_s)[done]
    ax.scatter(submit, response, s=2, alpha=0.35, color="#2f6db5", label="response time per job")
    if slo_s:
        ax.axhline(slo_s, color="#d9534f", linestyle="--", linewidth=1,
                   label=f"objective {slo_s} s")
    ax.set_ylabel("response time (s)")
    if len(response) and response.max() > 50 * max(np.median(response), 1e-3):
        ax.set_yscale("log")
    ax.legend(loc="upper right", fontsize=8)
