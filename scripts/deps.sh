#!/usr/bin/env bash
# Installs and starts what the tests need on a Debian host (as root), and
# fetches the Go modules once. Nothing here may depend on something
# installed by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  # dpkg/apt/start-stop-daemon and update-rc.d for the package and service
  # tests; passwd for users and groups; docker.io for the Docker states;
  # openvswitch-switch, iputils-ping and iproute2 for the OVS and network states;
  # git and tar for brine test diff and the git hooks; debootstrap for the
  # default image of brine test run; cron (crontab), locales (locale-gen),
  # openssh-client (ssh-keygen), unzip and zip for the cron, locale,
  # ssh_known_hosts and archive states; ruby (gem) for the gem states;
  # python3-pip and python3-venv for the pip states; python3 for the pydsl renderer;
  # chromium for the web view's browser test.
  for p in dpkg apt passwd init-system-helpers docker.io openvswitch-switch iputils-ping iproute2 git tar \
    debootstrap cron locales openssh-client unzip zip ruby python3 python3-pip python3-venv chromium; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  fi
  ./scripts/start-dockerd.sh
  ./scripts/start-ovs.sh
fi
go mod download
