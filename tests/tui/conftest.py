"""Fixtures of the console tests; the helpers live in ``tui_helpers``."""

from __future__ import annotations

import pytest

from imgproc.settings import Settings


@pytest.fixture
def settings() -> Settings:
    """Defaults, whatever the environment's ``IMGPROC_*`` variables say."""
    return Settings(_env_file=None)
