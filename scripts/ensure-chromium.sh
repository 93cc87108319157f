#!/usr/bin/env bash
# Makes Debian's chromium available for the Temporal UI browser test (test/ops/temporal-ui.browser.test.ts).
# Installs it with apt-get when it is missing and we are root; otherwise says why and exits non-zero, and the
# test skips with that message. Prints the browser's path on success.
set -uo pipefail
for c in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; exit 0; fi
done
if [ "$(id -u)" != "0" ]; then
  echo "chromium is not installed and this user is not root: run 'sudo apt-get install -y chromium' (or set CHROMIUM_PATH)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is not installed and apt-get is not available: install chromium and set CHROMIUM_PATH" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium >/tmp/sluice-chromium-install.log 2>&1; then
  apt-get update >>/tmp/sluice-chromium-install.log 2>&1 || true
  if ! apt-get install -y --no-install-recommends chromium >>/tmp/sluice-chromium-install.log 2>&1; then
    echo "apt-get install chromium failed (see /tmp/sluice-chromium-install.log)" >&2
    exit 1
  fi
fi
[ -x /usr/bin/chromium ] || { echo "apt-get installed chromium but /usr/bin/chromium is missing" >&2; exit 1; }
echo /usr/bin/chromium
