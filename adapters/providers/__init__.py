"""Providers: what makes a machine. One module (or package) per provider, one shape
(the core's ``Provider`` port, plus ``Options`` and ``from_settings``), and a registry
(``registry``) that picks one by name. See docs/providers.md."""

from imgproc.adapters.providers.registry import build_provider, provider_names
from imgproc.adapters.providers.settings import ProviderSettings

__all__ = ["ProviderSettings", "build_provider", "provider_names"]
