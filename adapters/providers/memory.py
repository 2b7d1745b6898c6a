"""The in-memory provider: a machine is an id in a set, started and stopped at once.

For tests of whatever drives a provider (the deployer, a live replay on in-memory
adapters), and for trying the control plane with nothing installed. It can be told
to refuse to start given machines, and to run a hook while it starts or stops one
(to act while the deployer is handling that machine). Whatever should run on its
machines (in-process workers, say) looks at ``alive()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from imgproc.adapters.providers.ids import checked_id
from imgproc.adapters.providers.settings import ProviderSettings
from imgproc.core.errors import ProviderError


class MemoryOptions(BaseModel):
    """The in-memory provider takes no options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MemoryProvider:
    """Machines as ids in a set."""

    name = "memory"
    Options = MemoryOptions

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running: set[str] = set()
        self.refuse: set[str] = set()
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.during_start: Callable[[str], None] | None = None
        self.during_stop: Callable[[str], None] | None = None
        self.closed = False

    @classmethod
    def from_settings(cls, settings: ProviderSettings,
                      worker_settings: Mapping[str, Any]) -> MemoryProvider:
        MemoryOptions.model_validate(settings.options)
        return cls()

    def start(self, machine_id: str) -> str:
        checked_id(machine_id)
        if self.during_start:
            self.during_start(machine_id)
        if machine_id in self.refuse:
            raise ProviderError(f"no capacity for {machine_id}")
        with self._lock:
            self.running.add(machine_id)
            self.started.append(machine_id)
        return f"memory://{machine_id}"

    def stop(self, machine_id: str) -> None:
        checked_id(machine_id)
        if self.during_stop:
            self.during_stop(machine_id)
        with self._lock:
            self.stopped.append(machine_id)
            self.running.discard(machine_id)

    def alive(self) -> set[str]:
        with self._lock:
            return set(self.running)

    def interrupt_starts(self) -> None:
        """Starts are instant: nothing to cut short."""

    def close(self) -> None:
        self.closed = True


PROVIDER = MemoryProvider
