#!/usr/bin/env bash
# Make a fresh Debian machine ready: the Debian packages the tests and demo use (chromium: the console's browser tests;
# rsync and lsyncd: bench:mirror's peers, which its test runs; strace: where the agent fsyncs; acl and attr: the mirror
# tests set and read ACLs and extended attributes; make and g++: the native addons), then the npm dependencies.
# Idempotent and quick when everything is there already. Run by `npm test` and `npm run demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(procps bsdutils openssh-server chromium iproute2 socat resource-agents iputils-ping iputils-arping inotify-tools util-linux prometheus rsync lsyncd strace acl attr make g++)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: these Debian packages are needed; as root run: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file. The Electron binary cannot be fetched
# here and is not needed to build or test.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: installing npm dependencies"
  ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-fund --no-audit
fi
