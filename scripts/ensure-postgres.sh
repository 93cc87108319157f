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
source "$(dirname "$0")/apt-install.sh"
apt_install postgresql "set PG_BIN_DIR to its bin directory" || exit 1
find_bin || { echo "apt-get installed postgresql but no /usr/lib/postgresql/*/bin has initdb and postgres" >&2; exit 1; }
