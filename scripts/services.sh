#!/usr/bin/env bash
# Makes sure Redis and PostgreSQL answer on 127.0.0.1 (6379, 5432) when this machine has them
# installed, starting them if they stopped, and exports REDIS_URL and DATABASE_URL for the tests.
# Where neither is installed, the URLs stay unset and the tests start embedded servers.

redis_up() { command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
postgres_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }

if ! redis_up && command -v redis-server >/dev/null; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 50); do redis_up && break; sleep 0.2; done
fi
if ! postgres_up && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 100); do postgres_up && break; sleep 0.2; done
fi

if [ -z "${REDIS_URL:-}" ] && redis_up; then export REDIS_URL=redis://127.0.0.1:6379/0; fi
if [ -z "${DATABASE_URL:-}" ] && postgres_up; then
  if psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
    export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test
  fi
fi
echo "tests use REDIS_URL=${REDIS_URL:-<embedded>} DATABASE_URL=${DATABASE_URL:-<embedded>}"
