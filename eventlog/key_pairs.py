"""The form of API keys given in the settings (`API_KEYS`, `ADMIN_API_KEYS`): comma-separated
`client:key` pairs. Checked when the settings are read, so a typo stops a command at start."""

from __future__ import annotations

import re

CLIENT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_KEY_LENGTH = 16


def parse_key_pairs(text: str) -> list[tuple[str, str]]:
    """`client:key,client:key` as (client, key) pairs; a ValueError says what is wrong, never
    showing a key."""
    pairs: list[tuple[str, str]] = []
    for number, item in enumerate(filter(None, (part.strip() for part in text.split(","))), 1):
        client, separator, key = item.partition(":")
        if not separator or not CLIENT_NAME.match(client):
            raise ValueError(
                f"entry {number} is not client:key (a client is 1-64 of A-Z a-z 0-9 _ . -)"
            )
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(f"the key of {client} is shorter than {MIN_KEY_LENGTH}")
        pairs.append((client, key))
    return pairs
