#!/usr/bin/env bash
# Install everything cryptopulse needs on this machine: the Python virtual environment (pinned
# by requirements*.lock), the dashboard build, and the Kafka and Spark jars from Maven Central.
# Usage: scripts/setup.sh [runtime|dev]   (dev adds the test and lint tools)
set -euo pipefail

mode="${1:-runtime}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1; }

apt_install() {  # [--no-install-recommends] package...
  if need apt-get && [ "$(id -u)" = 0 ]; then
    say "installing $* with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    say "missing: $* (install it and run again)"; exit 1
  fi
}

# --- system tools: Python 3.11+, Java 17+, Maven, Node 20+ -----------------------------------
python="${PYTHON:-python3}"
"$python" - <<'PY' || { say "Python 3.11 or newer is required"; exit 1; }
import sys
raise SystemExit(0 if sys.version_info >= (3, 11) else 1)
PY
need java || apt_install openjdk-17-jre-headless
need mvn || apt_install maven
need npm || apt_install nodejs npm
# The browser tests drive Debian's Chromium with Playwright (Playwright's own download is not used).
if [ "$mode" = dev ]; then need chromium || apt_install chromium; fi
# tests/e2e/test_raw_messages.py writes raw messages to the broker and reads the dead letters
# back with kcat (librdkafka's command-line client, Debian's package).
if [ "$mode" = dev ]; then need kcat || apt_install kcat; fi
# The monitoring tests run Debian's Prometheus (scraping the local pipeline) and its promtool
# (checking and unit-testing the alerting rules). Its systemd unit is not used: tests start
# their own prometheus on 127.0.0.1 with their own config and data directory.
if [ "$mode" = dev ]; then
  # (Without recommends: the node exporter and its friends are not needed.)
  { need prometheus && need promtool; } || apt_install --no-install-recommends prometheus
fi

# --- Python environment -----------------------------------------------------------------------
lock="requirements.lock"
[ "$mode" = dev ] && lock="requirements-dev.lock"
stamp=".venv/.installed-$(cat "$lock" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || { say "creating .venv"; "$python" -m venv .venv; }
  say "installing Python packages from $lock"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$lock"
  .venv/bin/python -m pip install -q --no-deps -e . 2>&1 | grep -v -e '^\s*!!' -e '\*\*\*' || true
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# --- dashboard --------------------------------------------------------------------------------
if [ ! -d services/dashboard/node_modules ] \
   || [ services/dashboard/package-lock.json -nt services/dashboard/node_modules/.package-lock.json ]; then
  say "installing dashboard packages (npm ci)"
  (cd services/dashboard && npm ci --no-audit --no-fund --loglevel=error)
fi
say "building the dashboard"
(cd services/dashboard && npm run --silent build >/dev/null)

# --- jars from Maven Central (cached in ~/.cache/cryptopulse) ---------------------------------
.venv/bin/cryptopulse jars
say "ready ($mode)"
