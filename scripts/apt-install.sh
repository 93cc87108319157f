# Sourced by the ensure-*.sh scripts: `apt_install PACKAGE HINT` installs one of Debian's packages for a
# test server, as root, without starting the package's own daemon (tests start their own servers on free
# ports). When it cannot, it says why and what to do instead (HINT) and returns non-zero.
apt_install() {
  local pkg=$1 hint=$2 log="/tmp/sluice-$1-install.log" policy=0 ok=0
  if [ "$(id -u)" != "0" ]; then
    echo "$pkg is not installed and this user is not root: run 'sudo apt-get install -y $pkg' (or $hint)" >&2
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$pkg is not installed and apt-get is not available: install it and $hint" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1; fi
  if apt-get install -y -o DPkg::Lock::Timeout=240 --no-install-recommends "$pkg" >"$log" 2>&1; then ok=1
  else
    # A machine whose package lists were never fetched: fetch them once and try again.
    apt-get update >>"$log" 2>&1 || true
    apt-get install -y -o DPkg::Lock::Timeout=240 --no-install-recommends "$pkg" >>"$log" 2>&1 && ok=1
  fi
  [ "$policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$ok" = 1 ] || { echo "apt-get install $pkg failed (see $log)" >&2; return 1; }
}
