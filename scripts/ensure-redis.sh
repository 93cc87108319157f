#!/usr/bin/env bash
# Makes Debian's redis-server available for the scale-out test (test/ops/scale-out.e2e.test.ts).
# Installs it with apt-get when it is missing and we are root; otherwise says why and exits non-zero, and the
# test skips with that message. Prints the server's path on success.
set -uo pipefail
for c in "${REDIS_SERVER_PATH:-}" /usr/bin/redis-server "$(command -v redis-server 2>/dev/null)"; do
  if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; exit 0; fi
done
source "$(dirname "$0")/apt-install.sh"
apt_install redis-server "set REDIS_SERVER_PATH" || exit 1
[ -x /usr/bin/redis-server ] || { echo "apt-get installed redis-server but /usr/bin/redis-server is missing" >&2; exit 1; }
echo /usr/bin/redis-server
