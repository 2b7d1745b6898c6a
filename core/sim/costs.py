"""What the live system costs beyond the clean model, for the simulator to predict it.

A :class:`Profile` holds what ``imgproc calibrate`` measured on a live system, in wall
seconds: how long a worker takes to start beyond its configured boot delay (and how much
longer when several start at once, on few cores), how long a job waits for an idle
worker to take it, how long a worker spends between two jobs, and how long a released
one takes to be gone. None of it runs
faster when a live run plays faster: at ``--speed 10`` one wall second is ten trace
seconds, so :meth:`Profile.at_speed` turns it into the :class:`LiveCosts` the simulator
adds, in trace seconds. Without a profile the simulator adds nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LiveCosts(BaseModel):
    """The live system's costs in trace seconds, as the simulator adds them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_s: float = Field(default=0.0, ge=0, description="a worker's start beyond the boot "
                                                          "delay, alone")
    start_per_concurrent_s: float = Field(
        default=0.0, ge=0,
        description="added to a worker's start for each other one asked for at once")
    dispatch_s: float = Field(default=0.0, ge=0,
                              description="a job's wait for an idle worker to take it")
    job_overhead_s: float = Field(default=0.0, ge=0,
                                  description="a worker's time between two jobs")
    stop_s: float = Field(default=0.0, ge=0,
                          description="a released idle worker's time until it is gone")

    def start(self, together: int) -> float:
        """A worker's start beyond the boot delay when ``together`` are asked for at once
        (they contend for the cores, and come up at about the same time)."""
        return self.start_s + self.start_per_concurrent_s * max(0, together - 1)

    @property
    def none(self) -> bool:
        return not (self.start_s or self.start_per_concurrent_s or self.dispatch_s
                    or self.job_overhead_s or self.stop_s)


class Profile(BaseModel):
    """A live system's measured costs, wall seconds (a profile file's content)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="what it was measured on")
    measured_at: str = Field(default="", description="when, ISO 8601")
    machine: str = Field(default="", description="the host: cores, memory, system")
    provider: str = Field(default="local", description="the provider its workers ran on")
    start_s: float = Field(ge=0, allow_inf_nan=False,
                           description="a worker's start beyond the boot delay, alone")
    start_per_concurrent_s: float = Field(
        ge=0, allow_inf_nan=False,
        description="added to a worker's start for each other one asked for at once")
    dispatch_s: float = Field(ge=0, allow_inf_nan=False,
                              description="a job's wait for an idle worker to take it")
    job_overhead_s: float = Field(ge=0, allow_inf_nan=False,
                                  description="a busy worker's time between two jobs")
    stop_s: float = Field(default=0.0, ge=0, allow_inf_nan=False,
                          description="a released idle worker's time until it is gone "
                                      "(still billed)")

    def at_speed(self, speed: float) -> LiveCosts:
        """These wall-second costs in the trace seconds of a run at ``speed``."""
        return LiveCosts(start_s=self.start_s * speed,
                         start_per_concurrent_s=self.start_per_concurrent_s * speed,
                         dispatch_s=self.dispatch_s * speed,
                         job_overhead_s=self.job_overhead_s * speed,
                         stop_s=self.stop_s * speed)
