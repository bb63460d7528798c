# lib.sh -- shared helpers for warp's integration scenarios (POSIX sh/bash).
#
#   . "$(dirname "$0")/../lib.sh"
#
# Gives: $TOP (repository), $BIN (bin/ or $WARP_BIN), $TOOLS (test tools,
# build/tests/tools or $WARP_TOOLS), $T (a private temp
# directory removed on exit), $PY (Debian's own python3), and helpers to
# pick free ports, write configs, start daemons in the background and wait
# for them, and fail with a message.  Everything a scenario starts is
# killed on exit.

set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${WARP_BIN:-$TOP/bin}
TOOLS=${WARP_TOOLS:-$TOP/build/tests/tools}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/warp-test.XXXXXX")
WARP_PIDS=""
WARP_CLEANUP=""

# running PID -- alive and not a zombie waiting to be reaped
running() {
	_st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$_st" ] && [ "${_st#Z}" = "$_st" ]
}

warp_cleanup() {
	rc=$?
	for c in $WARP_CLEANUP; do eval "$c" >/dev/null 2>&1; done
	for p in $WARP_PIDS; do kill "$p" 2>/dev/null; done
	# Let them stop on their own (warp-proxyd's master waits for its
	# workers; sanitizer builds check for leaks on the way out, and a
	# SIGKILL in the middle of that leaves a broken report), then kill
	# what is left.
	n=0
	while [ $n -lt 100 ]; do
		left=""
		for p in $WARP_PIDS; do running "$p" && left="$left $p"; done
		[ -z "$left" ] && break
		n=$((n + 1)); sleep 0.05
	done
	for p in $WARP_PIDS; do kill -9 "$p" 2>/dev/null; done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $f (last 40 lines)"; tail -n 40 "$f"
		done
	fi
	rm -rf "$T"
	exit "$rc"
}
trap warp_cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
ok()   { echo "ok: $*"; }
need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root ($*)"; }
need_cmd() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || fail "missing command $c (run scripts/deps)"; done; }

# on_exit 'command' -- run at exit, before the daemons are killed.
on_exit() { WARP_CLEANUP="$WARP_CLEANUP
$1"; }

# free_port -- a TCP port nobody listens on now (IPv4 and IPv6 loopback).
free_port() {
	$PY - <<'PYEOF'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PYEOF
}

# bg NAME COMMAND... -- start a process in the background, logging to
# $T/NAME.log; its pid is in $LAST_PID and killed at exit.
bg() {
	name=$1; shift
	"$@" >"$T/$name.log" 2>&1 &
	LAST_PID=$!
	WARP_PIDS="$WARP_PIDS $LAST_PID"
}

# wait_port HOST PORT [SECONDS] -- until a TCP connect succeeds.
wait_port() {
	$PY - "$1" "$2" "${3:-10}" <<'PYEOF' || fail "nothing listening on $1:$2"
import socket, sys, time
h, p, t = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + t
while time.time() < end:
    try:
        socket.create_connection((h, p), 0.5).close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PYEOF
}

# wait_file PATH [SECONDS] -- until PATH exists (sockets, pid files).
wait_file() {
	n=0 lim=$(( ${2:-10} * 20 ))
	while [ ! -e "$1" ]; do
		n=$((n + 1)); [ $n -gt $lim ] && fail "timed out waiting for $1"
		sleep 0.05
	done
}

# wait_for SECONDS COMMAND... -- until COMMAND succeeds.
wait_for() {
	lim=$(( $1 * 20 )); shift; n=0
	until "$@" >/dev/null 2>&1; do
		n=$((n + 1)); [ $n -gt $lim ] && return 1
		sleep 0.05
	done
}

# alive PID -- is the process still running?
alive() { kill -0 "$1" 2>/dev/null; }

# warp_conf DIR -- a development configuration directory for the suite:
# sockets, spool and databases under DIR, "user =" empty.  Add daemon
# keys by appending to DIR/<daemon>.conf afterwards.
warp_conf() {
	d=$1; mkdir -p "$d/run" "$d/spool" "$d/data"
	cat >"$d/warp.conf" <<CONFEOF
socket_dir = $d/run
log_level = debug
syslog = no
CONFEOF
	for n in proxyd logd filterd routed; do
		printf 'user =\n' >"$d/warp-$n.conf"
	done
	chmod 600 "$d"/*.conf
}
