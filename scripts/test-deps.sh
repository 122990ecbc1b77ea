#!/usr/bin/env bash
# Installs what the compatibility tests need, and nothing when it is already there:
#   - Debian's chromium at /usr/bin/chromium (apt-get, when running as root);
#   - PostgreSQL on 127.0.0.1:5432 and NATS on 127.0.0.1:4222, started when they
#     are installed but not running (the PostgreSQL and NATS tests need them);
#   - the npm packages of compat/ and web/ (npm ci, when node_modules is missing or older
#     than package-lock.json).
# Safe to run any number of times.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}

if [ -x "$chromium" ]; then
  echo "test-deps: chromium present: $("$chromium" --version 2>/dev/null | head -n 1)"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing Debian's chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "test-deps: installed $("$chromium" --version 2>/dev/null | head -n 1)"
else
  cat >&2 <<MSG
test-deps: $chromium is missing and cannot be installed from here (needs root and apt-get).
  Install it with:  sudo apt-get install chromium
  or point CHROMIUM_PATH at a Chromium or Chrome binary.
  The chatjs browser tests will fail without it.
MSG
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: installing Debian's nodejs and npm with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "test-deps: node and npm (Node.js 20 or newer) are required for compat/" >&2
    exit 1
  fi
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "test-deps: Node.js $(node --version) is too old; compat/ needs 20 or newer" >&2
  exit 1
fi

for dir in compat web; do
  pkg="$root/$dir"
  stamp="$pkg/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$pkg/package-lock.json" -nt "$stamp" ] || [ "$pkg/package.json" -nt "$stamp" ]; then
    echo "test-deps: npm ci in $dir/"
    (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "test-deps: $dir/node_modules is up to date"
  fi
done

# The PostgreSQL and NATS tests run on every CI run against the local servers.
# Start them when they are installed but not answering (HELPLINE_TEST_POSTGRES /
# HELPLINE_TEST_NATS point the tests elsewhere).
if [ -z "${HELPLINE_TEST_POSTGRES:-}" ]; then
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "test-deps: PostgreSQL answers on 127.0.0.1:5432"
  elif [ "$(id -u)" -eq 0 ] && command -v service >/dev/null 2>&1 && [ -x /etc/init.d/postgresql ]; then
    echo "test-deps: starting PostgreSQL (service postgresql start)"
    service postgresql start >/dev/null
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  else
    echo "test-deps: PostgreSQL is not answering on 127.0.0.1:5432; its tests fail under CI (set HELPLINE_TEST_POSTGRES)" >&2
  fi
fi
if [ -z "${HELPLINE_TEST_NATS:-}" ]; then
  if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
    echo "test-deps: NATS answers on 127.0.0.1:4222"
  elif command -v nats-server >/dev/null 2>&1; then
    echo "test-deps: starting nats-server on 127.0.0.1:4222"
    nohup nats-server -a 127.0.0.1 -p 4222 -js -sd "${TMPDIR:-/tmp}/helpline-nats" >/dev/null 2>&1 &
    for _ in $(seq 1 30); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.5; done
  else
    echo "test-deps: NATS is not answering on 127.0.0.1:4222; its tests fail under CI (set HELPLINE_TEST_NATS)" >&2
  fi
fi
