"""The type of the `make_settings` fixture: it builds the test's settings, with overrides."""

from __future__ import annotations

from collections.abc import Callable

from eventlog.settings import Settings

MakeSettings = Callable[..., Settings]
"""Called with `Settings` fields to override (`venue_seed=5`, ...)."""
