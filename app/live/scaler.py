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

from imgproc.adapters.rabbit import RabbitCommandBus, RabbitReadyCount, RabbitResultFeed
from imgproc.adapters.system_clock import SystemClock
from imgproc.adapters.zk.client import connect
from imgproc.core.messages import ScalerStatus
from imgproc.adapters.zk.config import ZkConfigStore, ZkScalerStatus
from imgproc.adapters.zk.election import ScalerElection
from imgproc.adapters.zk.registry import ZkMachineRegistry
from imgproc.bootstrap import policy_params
from imgproc.core.errors import ImgprocError
from imgproc.core.fleet import CommandedFleet
from imgproc.core.messages import ScalerConfig
from imgproc.core.policies import build_policy
from imgproc.core.ports import ConfigStore
from imgproc.core.results import LiveQueueProbe
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


class LiveScaler:
    """The leader's work: wire the ports, then run rounds until told to stop."""

    def __init__(self, settings: Settings, client, identifier: str, stop: threading.Event) -> None:
        self.settings = settings
        self.client = client
        self.identifier = identifier
        self.stop = stop
        self.config = ZkConfigStore(client, settings.zk.root)
        self.status = ZkScalerStatus(client, settings.zk.root)
        self._applied: tuple[str, dict] | None = None

    def _apply(self, scaler: Scaler, config: ScalerConfig, clock: SystemClock) -> None:
        if self._applied == (config.policy, dict(config.params)):
            return
        try:
            params = dict(config.params)
            defaults = policy_params(self.settings.model_copy(update={"policy": config.policy,
                                     "policy_params": params}), config.policy,
                                     self.settings.provider.boot_delay_s)
            scaler.set_policy(build_policy(config.policy, defaults))
        except ImgprocError as exc:
            log.error("config not applied: %s", exc)
            return
        self._applied = (config.policy, dict(config.params))
        self.status.write(ScalerStatus(identifier=self.identifier, policy=config.policy,
                                       applied_at=clock.now()))
        log.info("applied policy %s %s", config.policy, config.params)

    def lead(self, election: ScalerElection) -> None:
        s = self.settings
        clock = SystemClock(self.stop)
        config = initial_config(self.config, s, clock.now())
        pending = PendingConfig()
        registry = ZkMachineRegistry(self.client, s.zk.root)
        bus = RabbitCommandBus(s.rabbit, role=f"scaler {self.identifier}")
        probe = LiveQueueProbe(RabbitReadyCount(s.rabbit), registry, RabbitResultFeed(s.rabbit))
        fleet = CommandedFleet(registry, bus, clock, new_machine_id)
        scaler = Scaler(build_policy("constantsize"), probe, registry, fleet, clock, s.scaler)
        self._apply(scaler, config, clock)
        self.config.watch(pending.put)
        log.info("scaler %s leads", self.identifier)
        while not (self.stop.is_set() or election.should_stop()):
            change = pending.take()
            if change is not None:
                self._apply(scaler, change, clock)
            report = scaler.run_once()
            if report.decision is not None:
                log.info("round: %s -> %s (+%d -%d)", report.decision.reason,
                         report.decision.desired, len(report.started), len(report.released))
            election.wait_stop(s.scaler.interval_s)
        bus.close()


def run_scaler(settings: Settings, stop: threading.Event, identifier: str | None = None) -> int:
    identifier = identifier or f"scaler-{uuid.uuid4().hex[:6]}"
    client = connect(settings.zk)
    election = ScalerElection(client, settings.zk.root, identifier)

    def cancel_when_stopped() -> None:
        stop.wait()
        election.cancel()

    threading.Thread(target=cancel_when_stopped, daemon=True).start()
    try:
        log.info("scaler %s waiting to lead (%s)", identifier, settings.zk.hosts)
        election.run(lambda: LiveScaler(settings, client, identifier, stop).lead(election))
    finally:
        client.stop()
        client.close()
    return 0
