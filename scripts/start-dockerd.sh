#!/bin/sh
# Start a Docker engine (Debian's docker.io) in the background on a host
# without systemd, for brine's Docker tests. Idempotent: does nothing when
# the engine already answers; otherwise starts dockerd, logging to
# $DOCKERD_LOG, and waits until it answers (or fails after $DOCKERD_WAIT s).
#
# Needs root and `apt-get install -y docker.io` (dockerd, containerd, runc).
set -eu

SOCK=${DOCKERD_SOCK:-/var/run/docker.sock}
LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
WAIT=${DOCKERD_WAIT:-60}

answers() {
	if command -v curl >/dev/null 2>&1; then
		curl -sf --max-time 2 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1
	else
		DOCKER_HOST="unix://$SOCK" timeout 5 docker version >/dev/null 2>&1
	fi
}

if answers; then
	echo "dockerd already answers on $SOCK"
	exit 0
fi

command -v dockerd >/dev/null 2>&1 || { echo "dockerd not found: apt-get install -y docker.io" >&2; exit 1; }

# A dockerd killed earlier leaves its pid file behind and refuses to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
	rm -f /var/run/docker.pid
fi

mkdir -p "$(dirname "$LOG")"
# Defaults work here (overlay2 on ext4, cgroup v1 with cgroupfs, iptables);
# extra flags (e.g. --storage-driver=vfs --iptables=false) go in DOCKERD_FLAGS.
# shellcheck disable=SC2086
nohup dockerd --host "unix://$SOCK" ${DOCKERD_FLAGS:-} >>"$LOG" 2>&1 </dev/null &

i=0
while [ "$i" -lt "$WAIT" ]; do
	if answers; then
		echo "dockerd answers on $SOCK (log: $LOG)"
		exit 0
	fi
	sleep 1
	i=$((i + 1))
done
echo "dockerd did not answer on $SOCK within ${WAIT}s; last log lines:" >&2
tail -n 20 "$LOG" >&2
exit 1
