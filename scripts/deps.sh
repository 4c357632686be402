#!/usr/bin/env bash
# Installs what MonLycéePro needs on a fresh Debian/Ubuntu machine (idempotent).
#   scripts/deps.sh          runtime: Python env (uv), redis-server, DSFR assets
#   scripts/deps.sh --test   + test tools: chromium (browser tests), promtool, wrk (benchmarks), PostgreSQL if absent
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0; [ "${1:-}" = "--test" ] && want_test=1

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Il manque : $* — installez-les avec le gestionnaire de paquets de votre système." >&2; exit 1
  fi
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ $want_test -eq 1 ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v caddy >/dev/null 2>&1 || missing+=(caddy)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)  # the native load generator of bench/
  command -v psql >/dev/null 2>&1 || missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installation des paquets système : ${missing[*]}"
  apt_install "${missing[@]}"
fi

# uv: the one on PATH, else a private copy in .tools/ (no system pip needed, PEP 668-safe).
if command -v uv >/dev/null 2>&1; then UV=uv; else
  if [ ! -x .tools/bin/uv ]; then python3 -m venv .tools && .tools/bin/pip install -q uv; fi
  UV=.tools/bin/uv
fi
# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every process
# would otherwise recompile every import, about 2 s more per service start-up.
"$UV" sync --frozen -q --compile-bytecode
.venv/bin/python -m compileall -q -j 0 services shared bench tests scripts >/dev/null

# DSFR (système de design de l'État): its 1.x preinstall script refuses to run without a dsfr.yml.
if [ ! -f node_modules/@gouvfr/dsfr/dist/dsfr.min.css ]; then
  npm ci --ignore-scripts --no-audit --no-fund --silent
fi
