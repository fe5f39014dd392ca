"""Start-up waits: a part that starts before its servers waits for them, within a deadline."""

from __future__ import annotations

import logging

import psycopg
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from eventlog.backoff import retry_line

logger = logging.getLogger(__name__)


@retry(
    retry=retry_if_exception_type(psycopg.OperationalError),
    stop=stop_after_delay(60),
    wait=wait_fixed(0.2),
    before_sleep=retry_line(logger, "PostgreSQL", logging.INFO),
    reraise=True,
)
def wait_for_postgres(url: str) -> None:
    with psycopg.connect(url, connect_timeout=2) as conn:
        conn.execute("SELECT 1")
