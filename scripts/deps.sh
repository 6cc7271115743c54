#!/usr/bin/env bash
# Installs what the tests need on a Debian host (as root) and fetches the Go
# modules once. Nothing here may depend on something installed by hand.
set -euo pipefail
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # dpkg/apt/start-stop-daemon and update-rc.d for the package and service
  # tests; passwd for the user and group tests.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    dpkg apt passwd init-system-helpers >/dev/null
fi
go mod download
