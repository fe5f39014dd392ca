"""The settings by group, for each command's `--help`: the variables it reads, what they mean."""

from __future__ import annotations

from eventlog.setting_fields import SETTING_GROUPS
from eventlog.settings import Settings


def setting_group(field: str) -> str:
    """The group (a key of SETTING_GROUPS) of `field`."""
    extra = Settings.model_fields[field].json_schema_extra
    assert isinstance(extra, dict)
    return str(extra["group"])


def settings_by_group(*wanted: str) -> dict[str, list[str]]:
    """The fields named or in the groups named in `wanted`, by group in SETTING_GROUPS order."""
    unknown = set(wanted) - set(SETTING_GROUPS) - set(Settings.model_fields)
    assert not unknown, unknown
    chosen = [
        field
        for field in Settings.model_fields
        if field in wanted or setting_group(field) in wanted
    ]
    grouped: dict[str, list[str]] = {group: [] for group in SETTING_GROUPS}
    for field in chosen:
        grouped[setting_group(field)].append(field)
    return {group: fields for group, fields in grouped.items() if fields}
