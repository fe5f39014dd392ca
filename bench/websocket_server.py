"""The API process of the WebSocket benchmark: `oee api`'s app and serving, on the settings the
benchmark passes in `OEE_BENCH_SETTINGS` (JSON), with a deep accept backlog for a thousand sockets
connecting at once and, with `--deflate`, per-message deflate offered.

    OEE_BENCH_SETTINGS='{...}' python -m bench.websocket_server [--deflate]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from api.app import create_app
from api.serving import serve
from eventlog.settings import Settings

SETTINGS_VARIABLE = "OEE_BENCH_SETTINGS"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.websocket_server", description=__doc__)
    parser.add_argument("--deflate", action="store_true", help="offer per-message deflate")
    args = parser.parse_args(argv)
    settings = Settings.model_validate_json(os.environ[SETTINGS_VARIABLE])
    serve(
        create_app(settings),
        settings,
        host="127.0.0.1",
        log_level="warning",
        backlog=4096,
        ws_per_message_deflate=args.deflate,
    )


if __name__ == "__main__":
    main()
