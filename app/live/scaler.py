"""``imgproc scaler``: the scaler's loop on the live system, one active at a time.

Every scaler contends in a ZooKeeper election; only the leader decides. Its
policy and parameters live in the registry's config node: the leader watches
it and applies a change at the next round, without restart, and records what
it applied in the status node.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

from imgproc.core.clock import Clock
from imgproc.core.errors import ImgprocError
from imgproc.core.messages import ScalerConfig, ScalerStatus
from imgproc.core.policies import build_policy, policy_arguments
from imgproc.core.ports import ConfigStore, Election, StatusStore
from imgproc.core.scaler import Scaler
from imgproc.settings import Settings

log = logging.getLogger(__name__)


def new_machine_id() -> str:
    return f"worker-{uuid.uuid4().hex[:8]}"


class PendingConfig:
    """The latest config seen by the watch (a kazoo thread), taken by the loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config: ScalerConfig | None = None

    def put(self, config: ScalerConfig | None) -> None:
        if config is not None:
            with self._lock:
                self._config = config

    def take(self) -> ScalerConfig | None:
        with self._lock:
            config, self._config = self._config, None
            return config


def initial_config(store: ConfigStore, settings: Settings, now: float) -> ScalerConfig:
    """The stored config; if none is stored, the settings' one, written for operators to change.

    What was written is what the scaler starts with, even if the node is gone again by the
    time it could be read back (an operator's ``imgproc zk clear``, say).
    """
    config = store.read()
    if config is None:
        config = ScalerConfig(policy=settings.policy, params=settings.policy_params,
                              requested_at=now)
        store.write(config)
    return config


def next_round(due: float, interval_s: float, now: float) -> float:
    """When the round after the one due at ``due`` is due: rounds keep a fixed schedule, as
    the simulator's do, and each is stamped with its time on it, so that a policy's windows
    and cooldowns (whole numbers of intervals) do not turn on a round's few milliseconds of
    lateness. A round later than a whole interval (a pause, an outage) starts the schedule
    anew from now."""
    following = due + interval_s
    return following if following > now else now


class LiveScaler:
    """The leader's work: apply the configuration, then decide every interval.

    ``imgproc.bootstrap.build_scaler`` wires it (ports and clock) and runs it under the
    election; on in-memory adapters its rounds are stepped by the clock.
    """

    def __init__(self, settings: Settings, identifier: str, scaler: Scaler, config: ConfigStore,
                 status: StatusStore, clock: Clock,
                 close: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self.identifier = identifier
        self.scaler = scaler
        self.config = config
        self.status = status
        self.clock = clock
        self.pending = PendingConfig()
        self._applied: tuple[str, dict] | None = None
        self._next_round: float | None = None
        self.close = close

    def begin(self) -> None:
        """Apply the stored (or configured) policy and watch for changes."""
        self._apply(initial_config(self.config, self.settings, self.clock.now()))
        self.config.watch(self.pending.put)
        log.info("scaler %s leads", self.identifier)

    def round(self, leading: Callable[[], bool] = lambda: True,
              at: float | None = None) -> None:
        """Apply a pending config change, then decide once (as of ``at``, the round's time on
        its schedule; by default now); ``leading`` is asked right before each command, so
        that a scaler that lost its leadership meanwhile sends none."""
        change = self.pending.take()
        if change is not None:
            self._apply(change)
        report = self.scaler.run_once(may_act=leading, now=at)
        if report.decision is not None:
            log.info("round: %s -> %s (+%d -%d)", report.decision.reason,
                     report.decision.desired, len(report.started), len(report.released))

    def step(self) -> None:
        """A round when one is due (for a loop that calls often, on its clock)."""
        now = self.clock.now()
        if self._next_round is None:
            self.begin()
            self._next_round = now
        if now >= self._next_round:
            self.round(at=self._next_round)
            self._next_round = next_round(self._next_round, self.settings.scaler.interval_s,
                                          now)

    def lead(self, election: Election, stop: threading.Event) -> None:
        """Decide every interval while this scaler leads and nobody asked it to stop."""
        self.begin()
        interval, speed = self.settings.scaler.interval_s, self.settings.clock.speed
        due = self.clock.now()
        while not (stop.is_set() or election.should_stop()):
            self.round(leading=lambda: not election.should_stop(), at=due)
            due = next_round(due, interval, self.clock.now())
            # the schedule is on the trace's clock; the election's wait in wall seconds
            election.wait_stop(max(0.0, due - self.clock.now()) / speed)
        log.info("scaler %s stops leading", self.identifier)

    def _apply(self, config: ScalerConfig) -> None:
        if self._applied == (config.policy, dict(config.params)):
            return
        try:
            arguments = policy_arguments(config.policy, dict(config.params), self.settings.slo_s,
                                         self.settings.provider.boot_delay_s)
            self.scaler.set_policy(build_policy(config.policy, arguments))
        except ImgprocError as exc:
            log.error("config not applied: %s", exc)
            return
        self._applied = (config.policy, dict(config.params))
        self.status.write(ScalerStatus(identifier=self.identifier, policy=config.policy,
                                       applied_at=self.clock.now()))
        log.info("applied policy %s %s", config.policy, config.params)
