"""The one settings object, built from flags, ``IMGPROC_*`` environment and a TOML file.

Precedence, highest first: command-line flags, environment variables
(``IMGPROC_SLO_S=1.5``, nested with ``__``: ``IMGPROC_SIM__BOOT_DELAY_S=20``),
the TOML file given by ``--config`` or ``IMGPROC_CONFIG``, then defaults.
Nothing reads settings at import time: entry points call :func:`load_settings`
and pass the object (or its parts) into constructors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from imgproc.adapters.providers.settings import ProviderSettings
from imgproc.adapters.rabbit.settings import RabbitSettings
from imgproc.adapters.storage.settings import StorageSettings
from imgproc.adapters.zk.settings import ZkSettings
from imgproc.core.clock import ClockSettings
from imgproc.core.errors import ConfigurationError
from imgproc.core.scaler import ScalerLimits
from imgproc.core.sim.settings import SimSettings
from imgproc.core.validation import describe_errors
from imgproc.core.worker import DEFAULT_MAX_JOB_S


class WorkerSettings(BaseModel):
    """Where a worker reads and writes images."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_root: str = Field(
        default=".", description="job input paths are relative to this: a directory, or "
                                 "s3://bucket/prefix")
    output_root: str = Field(
        default="output", description="job output paths are relative to this: a directory, "
                                      "or s3://bucket/prefix")
    max_pixels: int = Field(default=50_000_000, gt=0, description="larger images fail the job")
    max_job_s: float = Field(
        default=DEFAULT_MAX_JOB_S, gt=0, allow_inf_nan=False,
        description="a job still running after this many seconds fails; the worker goes on")


class Settings(BaseSettings):
    """Everything configurable, with defaults that run with no service at all."""

    model_config = SettingsConfigDict(
        env_prefix="IMGPROC_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    policy: str = Field(default="slo", description="scaling policy (see `imgproc policies`)")
    policy_params: dict[str, Any] = Field(default_factory=dict, description="policy parameters")
    backend: Literal["sim", "live"] | None = Field(
        default=None, description="sim or live; unset: sim")
    slo_s: float = Field(default=2.0, gt=0, description="response-time objective, seconds")
    demand_window_s: float = Field(default=10.0, gt=0, description="window of the demand curve")
    price_per_hour: float = Field(default=0.10, ge=0, description="price of one machine-hour")
    clock: ClockSettings = Field(default_factory=ClockSettings)
    scaler: ScalerLimits = Field(default_factory=ScalerLimits)
    sim: SimSettings = Field(default_factory=SimSettings)
    rabbit: RabbitSettings = Field(default_factory=RabbitSettings)
    zk: ZkSettings = Field(default_factory=ZkSettings)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; ``overrides`` are the flags given (None values ignored)."""
    path = config_file or _env_config_path()
    if path is not None and not path.is_file():
        raise ConfigurationError(f"config file {path}: not found")
    flags = _drop_none(overrides)
    cls = _with_toml(path) if path else Settings
    try:
        return cls(**flags)
    except ValidationError as exc:
        where = f" (config file {path})" if path else ""
        raise ConfigurationError(
            f"invalid settings{where}: {describe_errors(exc, '<settings>')}") from exc


def _env_config_path() -> Path | None:
    value = os.environ.get("IMGPROC_CONFIG")
    return Path(value) if value else None


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _drop_none(value)
            if not value:
                continue
        if value is not None:
            cleaned[key] = value
    return cleaned


def _with_toml(path: Path) -> type[Settings]:
    """A Settings subclass that also reads ``path`` (below flags and environment)."""

    class FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    FileSettings.__name__ = "Settings"
    return FileSettings
