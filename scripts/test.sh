#!/usr/bin/env bash
# Runs the whole test suite against real servers (redis-server, PostgreSQL, SMTP on loopback,
# headless Chromium). Tests start their own redis-server; PostgreSQL is used when it answers
# on 127.0.0.1:5432 (or MLP_TEST_POSTGRES_URL), started here if installed but stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test

if [ -z "${MLP_TEST_POSTGRES_URL:-}" ] && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
    ver=$(ls /etc/postgresql | sort -V | tail -n1)
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    # A freshly installed cluster: let the tests create their databases as postgres over TCP.
    su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" 2>/dev/null || true
    psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1 \
      || su postgres -c "createdb test" 2>/dev/null || true
    psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1 \
      || export MLP_TEST_POSTGRES_URL="postgresql+psycopg://postgres:postgres@127.0.0.1:5432/test"
  fi
fi

# Types first (shared/ and services/, settings in pyproject.toml): a type error fails the run in
# seconds, before the suite starts.
.venv/bin/mypy

# The slowest tests are listed at the end: the suite must stay under 15 minutes on slow machines too.
# One pytest-xdist worker per CPU; each test file runs whole on one worker (--dist loadfile), so its
# module-scoped fixtures (a live system, a Chromium, an in-process server) start once. The heavy tests
# (live systems, crash scenarios) may run on two workers at once: their timeouts allow for it. (Until
# 2026-12-07 this was --dist loadgroup with every heavy test in one group; under pytest 9.2 xdist's
# groups silently stopped holding, pytest-xdist#1386, and tests were spread one by one.)
exec .venv/bin/python -m pytest -n "${MLP_TEST_WORKERS:-auto}" --dist loadfile --durations=15 "$@"
