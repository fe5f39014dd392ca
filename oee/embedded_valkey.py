"""The embedded Valkey server: AOF on, 127.0.0.1 only, a password, its data in `<data_dir>/valkey/`.
It runs as the owner itself (Valkey does not refuse root) and counts as up once PING answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from signal import SIGTERM

import redis

from oee.embedded_host import valkey_binary, write_private
from oee.embedded_process import Launcher, ServerProcess


def valkey_server(data_dir: Path) -> ServerProcess:
    return ServerProcess("valkey", "valkey-server", data_dir / "valkey", SIGTERM, SIGTERM)


def start_valkey(server: ServerProcess, launcher: Launcher, password: str) -> str:
    """Write its configuration and start it on `server.port`; returns its URL."""
    server.folder.mkdir(mode=0o700, exist_ok=True)
    config = server.folder / "valkey.conf"
    folder = json.dumps(str(server.folder), ensure_ascii=False)
    write_private(
        config,
        f"bind 127.0.0.1\nport {server.port}\nprotected-mode yes\ndaemonize no\ndir {folder}\n"
        f'appendonly yes\nappendfsync everysec\nsave ""\nrequirepass {password}\n'
        'logfile ""\nloglevel notice\n',
    )
    launcher.spawn(server, [str(valkey_binary()), str(config)], as_service=False)
    return f"redis://:{password}@127.0.0.1:{server.port}/0"


def wait_for_valkey(server: ServerProcess, launcher: Launcher, password: str) -> None:
    def retryable(exc: BaseException) -> bool:
        return isinstance(exc, redis.ConnectionError) and not isinstance(
            exc, redis.AuthenticationError
        )

    with redis.Redis("127.0.0.1", server.port, password=password, socket_timeout=5) as client:
        launcher.wait_until(server, client.ping, retryable)
