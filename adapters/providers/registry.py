"""The registry of providers: a name, the module that holds it, and its defaults.

A provider module is imported only when its kind is configured (its options are checked
when the settings load), so that one kind's libraries (python-vagrant, a cloud SDK) load
only where that kind is chosen. To add a
provider, write its module and add one entry here (docs/providers.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from imgproc.core.errors import ConfigurationError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from imgproc.adapters.providers.settings import ProviderSettings
    from imgproc.core.ports import Provider


class ProviderClass(Protocol):
    """What a provider module's ``PROVIDER`` is: a class made from the settings."""

    Options: type[BaseModel]

    def from_settings(self, settings: ProviderSettings,
                      worker_settings: Mapping[str, Any]) -> Provider:
        """The provider for ``settings``; ``worker_settings`` (every setting, as JSON) are
        what the workers on its machines run with."""
        ...


@dataclass(frozen=True)
class ProviderEntry:
    """Where a provider lives and what differs by kind."""

    module: str
    boot_timeout_s: float = 300.0  # how long a machine of this kind may take to start
    #: Whether its machines run an imgproc worker by themselves (the in-memory provider's
    #: do not: whoever drives it runs them), i.e. whether the commands may offer it.
    runs_workers: bool = True
    #: Whether its machines run on wall time only (a VM boots as fast as it boots), so
    #: that a live run cannot play faster than the trace (``settings.clock.speed``).
    wall_time_only: bool = False

    def load(self) -> ProviderClass:
        provider: ProviderClass = importlib.import_module(self.module).PROVIDER
        return provider


_PROVIDERS: Mapping[str, ProviderEntry] = {
    "local": ProviderEntry("imgproc.adapters.providers.local"),
    # a VM starts in about 90 s here, and the first after a change waits for its box
    "vagrant": ProviderEntry("imgproc.adapters.providers.vagrant", boot_timeout_s=600.0,
                             wall_time_only=True),
    "memory": ProviderEntry("imgproc.adapters.providers.memory", runs_workers=False),
}


def provider_names(runs_workers: bool = False) -> list[str]:
    """Every registered provider; with ``runs_workers``, those a deployer can run alone."""
    return [name for name, entry in _PROVIDERS.items() if entry.runs_workers or not runs_workers]


def provider_entry(kind: str) -> ProviderEntry:
    try:
        return _PROVIDERS[kind]
    except KeyError:
        raise ConfigurationError(
            f"unknown provider {kind!r}; known: {', '.join(_PROVIDERS)}") from None


def build_provider(settings: ProviderSettings, worker_settings: Mapping[str, Any]) -> Provider:
    """The provider the settings name, made from them."""
    return provider_entry(settings.kind).load().from_settings(settings, worker_settings)
