#!/usr/bin/env bash
# The `make run` demo: a masterless highstate of examples/ into a temporary
# root (the host is never touched), run again to show nothing changes, then
# in test mode after a file drifted.
set -euo pipefail
bin=${1:-bin/brine}
root=$(mktemp -d /tmp/brine-demo.XXXXXX)
trap 'rm -rf "$root"' EXIT
call() { "$bin" call --local --config examples/minion "$@" pillar="{root: $root}"; }

echo "### brine call --local state.highstate   (first run: everything changes)"
call state.highstate
echo
echo "### the same again: nothing to change"
call state.highstate --out summary
echo
echo "### someone edits a managed file; test mode shows the drift without fixing it"
echo "edited by hand" >> "$root/etc/hello.conf"
call state.highstate test=True
echo
echo "### apply again: drift corrected"
call state.highstate --out summary
