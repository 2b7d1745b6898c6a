"""The composition root: builds runs from settings, wiring ports to adapters.

Tests call the same functions with their own settings; nothing is built at
import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imgproc.adapters.profile_files import read_profile
from imgproc.core.metrics.record import RunRecord
from imgproc.core.metrics.summary import summarize
from imgproc.core.policies import build_policy, policy_arguments
from imgproc.core.sim.settings import SimSettings
from imgproc.core.sim.simulator import Simulation
from imgproc.core.trace import Trace
from imgproc.settings import Settings


@dataclass
class RunResult:
    """A finished run: its raw record and its summary (metric name to value)."""

    record: RunRecord
    summary: dict


def build_simulation(
    settings: Settings,
    trace: Trace,
    policy_name: str | None = None,
    on_sample: Callable[[Simulation], None] | None = None,
) -> Simulation:
    """A simulation of ``trace`` under the configured (or named) policy."""
    name = policy_name or settings.policy
    policy = build_policy(name, policy_params(settings, name, settings.sim.boot_delay_s))
    return Simulation(trace, policy, settings.scaler, sim_settings(settings),
                      on_sample=on_sample)


def sim_settings(settings: Settings) -> SimSettings:
    """The simulator's settings, with the profile's costs (if one is named) at the speed of
    the live run it predicts."""
    if settings.sim.profile is None:
        return settings.sim
    costs = read_profile(settings.sim.profile).at_speed(settings.clock.speed)
    return settings.sim.model_copy(update={"costs": costs})


def policy_params(settings: Settings, name: str, boot_delay_s: float) -> dict:
    """The policy's parameters: those configured (if it is the configured policy), plus the
    run's objective and boot delay for a policy that takes them."""
    configured = dict(settings.policy_params) if name == settings.policy else {}
    return policy_arguments(name, configured, settings.slo_s, boot_delay_s)


def summarise_run(settings: Settings, trace: Trace, record: RunRecord) -> RunResult:
    summary = summarize(
        record,
        trace.arrival_s,
        trace.service_s,
        slo_s=settings.slo_s,
        demand_window_s=settings.demand_window_s,
        price_per_hour=settings.price_per_hour,
    )
    return RunResult(record, summary)


def simulate(
    settings: Settings,
    trace: Trace,
    policy_name: str | None = None,
    on_sample: Callable[[Simulation], None] | None = None,
) -> RunResult:
    """Run ``trace`` in the simulator and summarise it."""
    sim = build_simulation(settings, trace, policy_name, on_sample)
    return summarise_run(settings, trace, sim.run())
