"""The reaction benchmark's figures per repetition (bench_reaction.py): :class:`Rep`, what one
burst measured, and its printed form.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Rep:
    index: int
    burst_start: float
    burst_end: float
    before: set[str]
    reaction_s: float | None = None
    first_new: str | None = None
    steps: dict[str, float] = field(default_factory=dict)
    new_machines: int = 0
    peak: int = 0
    backlog_served_s: float | None = None
    back_to_size_s: float | None = None
    all_destroyed_s: float | None = None
    drains: list[float] = field(default_factory=list)
    response_p50: float = float("nan")
    response_p95: float = float("nan")

def fmt(value: float | None, unit: str = " s") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def print_rep(rep: Rep, interval: float, flush: bool = False) -> None:
    bound = interval + 2
    verdict = "-" if rep.reaction_s is None else ("within" if rep.reaction_s <= bound else "OVER")
    print(f"  repetition {rep.index}: reaction {fmt(rep.reaction_s)} "
          f"({verdict} the bound {bound:g} s), first new worker {rep.first_new}; "
          f"{rep.new_machines} new machines, peak fleet {rep.peak}")
    if rep.steps:
        print("    " + "; ".join(f"{k} {v:.2f} s" for k, v in rep.steps.items()))
    print(f"    burst responses p50 {rep.response_p50:.2f} s, p95 {rep.response_p95:.2f} s; "
          f"after the burst's last job: backlog served {fmt(rep.backlog_served_s)}, "
          f"fleet back to size {fmt(rep.back_to_size_s)}, "
          f"released machines destroyed {fmt(rep.all_destroyed_s)}; "
          f"drain per machine {', '.join(f'{d:.2f}' for d in rep.drains) or '-'} s", flush=flush)
