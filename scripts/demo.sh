#!/usr/bin/env bash
# The `make run` demo: an embedded master and three minions on loopback, each
# with its own id, data directory and temporary root (the host is never
# touched), auto-accepted; a highstate of examples/ across the fleet, printed
# as Salt does, then again (nothing changes); then everything stops.
set -euo pipefail
bin=$(realpath "${1:-bin/brine}")
work=$(mktemp -d /tmp/brine-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export BRINE_SOCKET=$work/master.sock NO_COLOR=${NO_COLOR:-}
port=$((20000 + RANDOM % 30000))

"$bin" master --config /dev/null --data-dir "$work/master" --socket "$BRINE_SOCKET" --listen "127.0.0.1:$port" \
  --file-root examples/states --pillar-root examples/pillar --auto-accept --log-level warning \
  2>"$work/master.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$BRINE_SOCKET" ] && break; sleep 0.1; done
[ -S "$BRINE_SOCKET" ] || { cat "$work/master.log"; exit 1; }

for m in web1:web web2:web db1:db; do
  id=${m%%:*} role=${m##*:}
  cat > "$work/$id.yaml" <<CFG
id: $id
master: [nats://127.0.0.1:$port]
data_dir: $work/$id
grains:
  role: $role
  demo_root: $work/root-$id
CFG
  "$bin" minion --config "$work/$id.yaml" --log-level warning 2>"$work/$id.log" &
  pids+=($!)
done

echo "### master on 127.0.0.1:$port, minions web1 web2 db1 (auto-accepted)"
for _ in $(seq 60); do
  n=$("$bin" '*' test.ping --timeout 2s --out txt 2>/dev/null | grep -c True || true)
  [ "$n" = 3 ] && break
  sleep 0.5
done
"$bin" key list
echo
echo "### brine '*' state.highstate   (first run: everything changes)"
"$bin" '*' state.highstate
echo
echo "### brine '*' state.highstate --out summary   (again: nothing to change)"
"$bin" '*' state.highstate --out summary
echo
echo "### brine -G role:web grains.get demo_root"
"$bin" -G role:web grains.get demo_root
echo
echo "### brine jobs list"
"$bin" jobs list
