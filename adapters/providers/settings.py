"""What every provider is configured with, and where a provider's own options go.

The common fields hold for any kind of machine; ``options`` holds what only one
kind understands (a VM's memory, a cloud's region), checked by that provider's
own ``Options`` model when the settings are loaded, so a typo is an error at
start, not a surprise at the first scale-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from imgproc.adapters.providers.registry import provider_entry, provider_names
from imgproc.core.validation import describe_errors


class ProviderSettings(BaseModel):
    """How the deployer makes machines."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(default="local", description="which provider makes machines "
                      "(see docs/providers.md): local processes, vagrant VMs, memory")
    boot_delay_s: float = Field(
        default=0.0, ge=0, description="a local worker waits this long, as a VM boots")
    drain_timeout_s: float = Field(
        default=60.0, gt=0, description="kill a draining worker after this")
    boot_timeout_s: float = Field(
        default=300.0, gt=0,
        description="fail a machine not running by then [the provider's own: vagrant 600]")
    state_dir: Path = Field(
        default=Path(".imgproc/machines"), description="pid files, run directories, logs")
    options: dict[str, Any] = Field(
        default_factory=dict, description="the provider's own options (docs/providers.md)")

    @model_validator(mode="before")
    @classmethod
    def _provider_defaults(cls, data: Any) -> Any:
        """A known kind, and its own boot timeout unless one is given."""
        if not isinstance(data, dict):
            return data
        kind = data.get("kind") or "local"
        if kind not in provider_names():
            raise ValueError(f"unknown provider {kind!r}; known: {', '.join(provider_names())}")
        moved = sorted(set(data) & set(provider_entry(kind).load().Options.model_fields))
        if moved:  # where these were before providers had options of their own
            raise ValueError(f"{', '.join(moved)}: options of provider {kind}, now set under "
                             f"provider.options ([provider.options] in a file, "
                             f"IMGPROC_PROVIDER__OPTIONS__{moved[0].upper()} in the environment)")
        if data.get("boot_timeout_s") is None:
            return {**data, "boot_timeout_s": provider_entry(kind).boot_timeout_s}
        return data

    @model_validator(mode="after")
    def _options_fit_the_provider(self) -> ProviderSettings:
        try:
            provider_entry(self.kind).load().Options.model_validate(self.options)
        except ValidationError as exc:
            raise ValueError(f"options of provider {self.kind}: "
                             f"{describe_errors(exc, prefix='options')}") from exc
        return self
