# proxyd.sh -- shell pieces shared by the proxyd_* scenarios.  Source it
# after tests/lib.sh:
#
#   . "$(dirname "$0")/../lib.sh"
#   . "$TOP/tests/helpers/proxyd.sh"
#
# need_proxyd                      fail unless $BIN/warp-proxyd is built
# proxyd_conf DIR LISTEN DEST [LINE...]
#                                  a dev config dir for proxyd: listen,
#                                  destination, log_events = no, the event
#                                  spool under DIR, then each
#                                  LINE ("key = value") appended
# start_proxyd NAME DIR HOST PORT [-o key=value...]
#                                  run proxyd -C DIR in the background,
#                                  wait until HOST:PORT accepts
# start_capture NAME DIR ARGS...   run smtpd_capture.py (ARGS: --listen ...)
#                                  and wait until it listens
# start_sink NAME HOSTPORT DUMP [OPTS...]
#                                  Postfix smtp-sink, every transaction
#                                  appended to DUMP
# sink_count DUMP                  messages in an smtp-sink dump
# pyrun ARGS...                    $PY with tests/helpers on PYTHONPATH

HELPERS=$TOP/tests/helpers
export PYTHONPATH="$HELPERS${PYTHONPATH:+:$PYTHONPATH}"

need_proxyd() {
	[ -x "$BIN/warp-proxyd" ] ||
		fail "$BIN/warp-proxyd is not built (run make, or set WARP_BIN)"
}

proxyd_conf() {
	_pd=$1 _pl=$2 _pdst=$3; shift 3
	warp_conf "$_pd"
	{
		echo "listen = $_pl"
		echo "destination = $_pdst"
		echo "log_events = no"
		echo "event_spool_dir = $_pd/spool"
		for _l in "$@"; do echo "$_l"; done
	} >>"$_pd/warp-proxyd.conf"
}

start_proxyd() {
	_pn=$1 _pd=$2 _ph=$3 _pp=$4; shift 4
	bg "$_pn" "$BIN/warp-proxyd" -C "$_pd" "$@"
	_ppid=$LAST_PID
	wait_port "$_ph" "$_pp" 10
	alive "$_ppid" || fail "warp-proxyd ($_pn) exited at start-up"
	PROXYD_PID=$_ppid
}

start_capture() {
	_cn=$1 _cd=$2; shift 2
	mkdir -p "$_cd"
	rm -f "$_cd.ready"
	bg "$_cn" "$PY" "$HELPERS/smtpd_capture.py" --dir "$_cd" --ready "$_cd.ready" "$@"
	_cpid=$LAST_PID
	n=0
	while [ ! -e "$_cd.ready" ]; do
		alive "$_cpid" || fail "smtpd_capture ($_cn) did not start: $(tail -n 5 "$T/$_cn.log")"
		n=$((n + 1)); [ $n -gt 200 ] && fail "smtpd_capture ($_cn) did not start"
		sleep 0.05
	done
	CAPTURE_PID=$_cpid
}

# smtp-sink refuses to run as root without -u; as anyone else -u fails.
start_sink() {
	_sn=$1 _shp=$2 _sdump=$3; shift 3
	if [ "$(id -u)" -eq 0 ]; then set -- -u root "$@"; fi
	bg "$_sn" /usr/sbin/smtp-sink "$@" -D "$_sdump" "$_shp" 1000
	SINK_PID=$LAST_PID
	wait_port "${_shp%:*}" "${_shp##*:}" 10
}

sink_count() {
	[ -f "$1" ] || { echo 0; return; }
	grep -c '^X-Mail-Args:' "$1"
}

pyrun() { "$PY" "$@"; }
