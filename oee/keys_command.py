"""`oee keys create CLIENT [--admin]`, `oee keys list`, `oee keys revoke ID`: the API keys kept in
Redis beside the log. A new key is printed once; only its hash is kept. Without `REDIS_URL`, the
Redis of a running `oee up` in the data folder is used.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from eventlog.settings import Settings, SettingsError


def _redis_settings(settings: Settings) -> Settings:
    from oee.embedded_state import read_state

    if settings.has_redis():
        return settings
    running = read_state(settings.data_dir.expanduser()).get("redis_url")
    if not running:
        raise SettingsError("REDIS_URL is not set and no `oee up` runs in the data folder")
    return settings.model_copy(update={"redis_url": running})


def _when(moment: float | None) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def run_keys(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here: `oee --help` and the other commands need none of it.
    from api.api_keys import create_key, revoke_key, stored_keys
    from eventlog.connections import redis_client

    redis = redis_client(_redis_settings(settings))
    keys = settings.log_keys()
    try:
        if args.action == "create":
            try:
                key_id, key = await create_key(redis, keys, args.client, admin=args.admin)
            except ValueError as exc:
                print(f"oee keys: {exc}", file=sys.stderr)
                return 2
            kind = "admin key" if args.admin else "key"
            print(f"{kind} {key_id} for {args.client} (shown once; keep it now):\n{key}")
        elif args.action == "list":
            print(f"{'id':<14}{'client':<24}{'admin':<7}{'created':<22}revoked")
            found = sorted((await stored_keys(redis, keys)).values(), key=lambda k: k.created)
            for k in found:
                admin = "yes" if k.admin else "no"
                print(f"{k.id:<14}{k.client:<24}{admin:<7}{_when(k.created):<22}{_when(k.revoked)}")
        elif not await revoke_key(redis, keys, args.id):
            print(f"oee keys: no key {args.id}", file=sys.stderr)
            return 1
        else:
            print(f"revoked {args.id}")
        return 0
    finally:
        await redis.aclose()


def add_keys_parser(keys: argparse.ArgumentParser) -> None:
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key for CLIENT and print it once")
    create.add_argument("client", help="the client's name: 1-64 of A-Z a-z 0-9 _ . -")
    create.add_argument("--admin", action="store_true", help="an operator's key: sees everything")
    actions.add_parser("list", help="list keys (id, client, admin, created, revoked); never a key")
    revoke = actions.add_parser(
        "revoke", help="revoke a key by its id (takes effect within seconds)"
    )
    revoke.add_argument("id", help="the key's id, as `oee keys list` shows it")
