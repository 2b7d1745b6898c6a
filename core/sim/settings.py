"""The simulated world's settings, apart from the simulator: the settings object (which
every live process loads) need not import the simulator and numpy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from imgproc.core.sim.costs import LiveCosts


class SimSettings(BaseModel):
    """The simulated world: how long machines take to come and go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    boot_delay_s: float = Field(
        default=30.0, ge=0,
        description="request to ready; 30 s is a fast cloud VM (clouds: 20-100 s), a VM of "
                    "this host's Vagrant provider about 90 s (docs/policies.md)")
    boot_jitter_s: float = Field(default=0.0, ge=0, description="uniform extra boot time, 0..this")
    release_delay_s: float = Field(default=0.0, ge=0, description="release to gone (still billed)")
    sample_step_s: float = Field(default=1.0, gt=0, description="time-series step")
    max_overrun_s: float = Field(
        default=86_400.0, gt=0, description="give up this long after the last arrival")
    seed: int = Field(default=0, description="seed for boot jitter")
    warm_start: bool = Field(
        default=True, description="start with the scaler's min_workers running at 0, as the "
                                  "2012 system did before its benchmarks; off: with no "
                                  "machine (the first round asks for them, and they boot)")
    profile: str | None = Field(
        default=None, description="model the live system's costs measured in this profile "
                                  "(a file, or a shipped name: local); unset: the clean model")
    costs: LiveCosts = Field(
        default_factory=LiveCosts,
        description="what the live system costs beyond this model, trace seconds (the "
                    "profile's, at the clock's speed)")
