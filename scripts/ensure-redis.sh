#!/usr/bin/env bash
# Makes Debian's redis-server available for the scale-out test (test/ops/scale-out.e2e.test.ts).
# Installs it with apt-get when it is missing and we are root; otherwise says why and exits non-zero, and the
# test skips with that message. Prints the server's path on success.
set -uo pipefail
for c in "${REDIS_SERVER_PATH:-}" /usr/bin/redis-server "$(command -v redis-server 2>/dev/null)"; do
  if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; exit 0; fi
done
if [ "$(id -u)" != "0" ]; then
  echo "redis-server is not installed and this user is not root: run 'sudo apt-get install -y redis-server' (or set REDIS_SERVER_PATH)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "redis-server is not installed and apt-get is not available: install redis-server and set REDIS_SERVER_PATH" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=/tmp/sluice-redis-install.log
# The package's own service is not wanted (tests start their own server on a free port): no daemon start.
policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1; fi
ok=0
if apt-get install -y -o DPkg::Lock::Timeout=240 --no-install-recommends redis-server >"$log" 2>&1; then ok=1
else
  apt-get update >>"$log" 2>&1 || true
  apt-get install -y -o DPkg::Lock::Timeout=240 --no-install-recommends redis-server >>"$log" 2>&1 && ok=1
fi
[ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
[ "$ok" = 1 ] || { echo "apt-get install redis-server failed (see $log)" >&2; exit 1; }
[ -x /usr/bin/redis-server ] || { echo "apt-get installed redis-server but /usr/bin/redis-server is missing" >&2; exit 1; }
echo /usr/bin/redis-server
