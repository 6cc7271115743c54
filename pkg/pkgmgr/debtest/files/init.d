#!/bin/sh
### BEGIN INIT INFO
# Provides:          brine-test-daemon
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: brine test daemon
### END INIT INFO
NAME=brine-test-daemon
DAEMON=/usr/sbin/$NAME
PIDFILE=/run/$NAME.pid

[ -x "$DAEMON" ] || exit 5

do_start() {
	start-stop-daemon --start --quiet --oknodo --background --make-pidfile \
		--pidfile "$PIDFILE" --startas "$DAEMON"
}

do_stop() {
	start-stop-daemon --stop --quiet --oknodo --pidfile "$PIDFILE" \
		--retry TERM/5/KILL/2 --remove-pidfile
}

case "$1" in
start)
	do_start
	;;
stop)
	do_stop
	;;
restart|force-reload)
	do_stop && do_start
	;;
reload)
	start-stop-daemon --stop --quiet --signal HUP --pidfile "$PIDFILE"
	;;
status)
	start-stop-daemon --status --pidfile "$PIDFILE"
	rc=$?
	if [ "$rc" -eq 0 ]; then echo "$NAME is running"; else echo "$NAME is not running"; fi
	exit "$rc"
	;;
*)
	echo "Usage: /etc/init.d/$NAME {start|stop|restart|reload|force-reload|status}" >&2
	exit 3
	;;
esac
