#!/bin/sh
# Start Open vSwitch (Debian's openvswitch-switch) in the background on a
# host without systemd and without the openvswitch kernel module, for
# brine's OVS tests: bridges then use the userspace datapath
# (datapath_type=netdev). Idempotent: does nothing when `ovs-vsctl show`
# already answers and ovs-vswitchd runs; otherwise creates the database if needed, starts
# ovsdb-server and ovs-vswitchd, and waits until `ovs-vsctl show` answers
# (or fails after $OVS_WAIT seconds).
#
# Needs root and `apt-get install -y openvswitch-switch`.
set -eu

RUNDIR=${OVS_RUNDIR:-/var/run/openvswitch}
LOGDIR=${OVS_LOGDIR:-/var/log/openvswitch}
DB=${OVS_DB:-/etc/openvswitch/conf.db}
SCHEMA=${OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
WAIT=${OVS_WAIT:-30}
SOCK=$RUNDIR/db.sock

export OVS_RUNDIR=$RUNDIR

answers() {
	ovs-vsctl --db="unix:$SOCK" --timeout=2 show >/dev/null 2>&1
}

running() { # running DAEMON: its control socket answers
	ovs-appctl -t "$1" --timeout=2 version >/dev/null 2>&1
}

if answers && running ovs-vswitchd; then
	echo "Open vSwitch already answers on $SOCK"
	exit 0
fi

for c in ovsdb-server ovs-vswitchd ovsdb-tool ovs-vsctl; do
	command -v "$c" >/dev/null 2>&1 || { echo "$c not found: apt-get install -y openvswitch-switch" >&2; exit 1; }
done

mkdir -p "$RUNDIR" "$LOGDIR"
# conf.db may be a dangling symlink into /var/lib/openvswitch.
mkdir -p "$(dirname "$(readlink -f "$DB")")"
if [ ! -s "$DB" ]; then
	ovsdb-tool create "$DB" "$SCHEMA"
elif [ "$(ovsdb-tool needs-conversion "$DB" "$SCHEMA")" = yes ]; then
	ovsdb-tool convert "$DB" "$SCHEMA"
fi

# Daemons killed earlier leave pid files behind; --pidfile replaces them.
if ! running ovsdb-server; then
	ovsdb-server "$DB" \
		--remote="punix:$SOCK" \
		--remote=db:Open_vSwitch,Open_vSwitch,manager_options \
		--pidfile="$RUNDIR/ovsdb-server.pid" --detach \
		--log-file="$LOGDIR/ovsdb-server.log" -vconsole:off
fi

version=$(ovs-vswitchd --version | sed -n 's/.*(Open vSwitch) //p' | head -n 1)
ovs-vsctl --db="unix:$SOCK" --no-wait -- init -- set Open_vSwitch . \
	ovs_version="\"$version\"" db_version="\"$(ovsdb-tool schema-version "$SCHEMA")\""

if ! running ovs-vswitchd; then
	ovs-vswitchd "unix:$SOCK" \
		--pidfile="$RUNDIR/ovs-vswitchd.pid" --detach \
		--log-file="$LOGDIR/ovs-vswitchd.log" -vconsole:off
fi

i=0
while [ "$i" -lt "$WAIT" ]; do
	# ovs-vswitchd has read the database once it reports its datapath types.
	if answers && [ -n "$(ovs-vsctl --db="unix:$SOCK" --timeout=2 get Open_vSwitch . datapath_types 2>/dev/null | tr -d '[]')" ]; then
		echo "Open vSwitch $version answers on $SOCK (logs: $LOGDIR)"
		exit 0
	fi
	sleep 1
	i=$((i + 1))
done
echo "Open vSwitch did not answer on $SOCK within ${WAIT}s; last log lines:" >&2
tail -n 20 "$LOGDIR/ovsdb-server.log" "$LOGDIR/ovs-vswitchd.log" >&2
exit 1
