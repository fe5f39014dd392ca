"""The API process of the WebSocket benchmark: `oee api`'s app and serving, on the settings in
its environment (as every child gets them), with a deep accept backlog for a thousand sockets
connecting at once and, with `--deflate`, per-message deflate offered.

    python -m bench.websocket_server [--deflate]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from api.serving import serve
from eventlog.settings import Settings
from oee.wiring import api_app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.websocket_server", description=__doc__)
    parser.add_argument("--deflate", action="store_true", help="offer per-message deflate")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    serve(
        api_app(settings),
        settings,
        host="127.0.0.1",
        log_level="warning",
        backlog=4096,
        ws_per_message_deflate=args.deflate,
    )


if __name__ == "__main__":
    main()
