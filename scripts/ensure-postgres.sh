#!/usr/bin/env bash
# Makes PostgreSQL server binaries available for the DuckLake-catalog tests (test/pg-server.ts starts its
# own throwaway cluster with them). Installs Debian's postgresql with apt-get when missing and we are
# root; otherwise says why and exits non-zero, and the tests skip with that message. Prints the bin
# directory (holding initdb and postgres) on success.
set -uo pipefail

find_bin() {
  if [ -n "${PG_BIN_DIR:-}" ]; then
    [ -x "$PG_BIN_DIR/initdb" ] && [ -x "$PG_BIN_DIR/postgres" ] && { echo "$PG_BIN_DIR"; return 0; }
    return 1
  fi
  # Debian keeps server binaries off PATH, one directory per major version: take the newest.
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -rn); do
    [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  done
  return 1
}

find_bin && exit 0
if [ -n "${PG_BIN_DIR:-}" ]; then
  echo "PG_BIN_DIR=$PG_BIN_DIR has no executable initdb and postgres" >&2
  exit 1
fi
if [ "$(id -u)" != "0" ]; then
  echo "PostgreSQL is not installed and this user is not root: run 'sudo apt-get install -y postgresql' (or set PG_BIN_DIR)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL is not installed and apt-get is not available: install PostgreSQL and set PG_BIN_DIR to its bin directory" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=/tmp/sluice-postgres-install.log
# The package's own cluster service is not wanted (tests start their own server on a free port): no daemon start.
policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1; fi
ok=0
if apt-get install -y -o DPkg::Lock::Timeout=240 --no-install-recommends postgresql >"$log" 2>&1; then ok=1
else
  apt-get update >>"$log" 2>&1 || true
  apt-get install -y -o DPkg::Lock::Timeout=240 --no-install-recommends postgresql >>"$log" 2>&1 && ok=1
fi
[ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
[ "$ok" = 1 ] || { echo "apt-get install postgresql failed (see $log)" >&2; exit 1; }
find_bin || { echo "apt-get installed postgresql but no /usr/lib/postgresql/*/bin has initdb and postgres" >&2; exit 1; }
