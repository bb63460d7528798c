# mariadb.sh -- a private MariaDB server for warp's scenarios (sourced after
# tests/lib.sh).  The server lives under $T/mariadb (datadir, socket, log),
# listens on a Unix socket only, and is stopped by the scenario's exit trap.
#
#   mariadb_start          install a datadir and start the server; sets
#                          $MYSOCK and creates database "warp"
#   mariadb_stop           stop it (data stays, for a restart)
#   mariadb_restart_server start it again on the same datadir
#   myq "SQL"              run a query (batch mode, no column names)
#
# Skips the scenario (77) when the server programs are not installed.

MYDIR=$T/mariadb
MYSOCK=$MYDIR/my.sock
MYPID=""

mariadb_bin() {
	for c in mariadbd mysqld; do
		for d in /usr/sbin /usr/bin /usr/libexec; do
			[ -x "$d/$c" ] && { echo "$d/$c"; return 0; }
		done
	done
	return 1
}

myq() {
	mariadb --no-defaults -S "$MYSOCK" -u root -N -B warp -e "$1"
}

mariadb_launch() {
	args="--no-defaults --datadir=$MYDIR/data --socket=$MYSOCK \
--skip-networking --pid-file=$MYDIR/my.pid --log-error=$MYDIR/error.log \
--innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
--skip-log-bin --innodb-flush-log-at-trx-commit=2"
	[ "$(id -u)" -eq 0 ] && args="$args --user=root"
	# shellcheck disable=SC2086
	"$MYBIN" $args >"$MYDIR/stdout.log" 2>&1 &
	MYPID=$!
	WARP_PIDS="$WARP_PIDS $MYPID"
	n=0
	until mariadb --no-defaults -S "$MYSOCK" -u root -e 'SELECT 1' \
	    >/dev/null 2>&1; do
		n=$((n + 1))
		if [ $n -gt 300 ] || ! kill -0 "$MYPID" 2>/dev/null; then
			tail -n 20 "$MYDIR/error.log" >&2
			fail "MariaDB did not start"
		fi
		sleep 0.1
	done
}

mariadb_start() {
	MYBIN=$(mariadb_bin) || skip "MariaDB server not installed (scripts/deps installs mariadb-server)"
	command -v mariadb-install-db >/dev/null 2>&1 ||
	    skip "mariadb-install-db not installed"
	mkdir -p "$MYDIR/data"
	uarg=""
	[ "$(id -u)" -eq 0 ] && uarg="--user=root"
	# shellcheck disable=SC2086
	mariadb-install-db --no-defaults --datadir="$MYDIR/data" $uarg \
	    --auth-root-authentication-method=normal --skip-test-db \
	    >"$MYDIR/install.log" 2>&1 || {
		tail -n 20 "$MYDIR/install.log" >&2
		fail "mariadb-install-db failed"
	}
	mariadb_launch
	mariadb --no-defaults -S "$MYSOCK" -u root \
	    -e 'CREATE DATABASE IF NOT EXISTS warp CHARACTER SET utf8mb4' ||
	    fail "cannot create database warp"
	on_exit mariadb_stop
}

mariadb_stop() {
	[ -n "$MYPID" ] || return 0
	mariadb-admin --no-defaults -S "$MYSOCK" -u root shutdown \
	    >/dev/null 2>&1 || kill "$MYPID" 2>/dev/null
	n=0
	while kill -0 "$MYPID" 2>/dev/null && [ $n -lt 200 ]; do
		sleep 0.05; n=$((n + 1))
	done
	kill -9 "$MYPID" 2>/dev/null
	MYPID=""
}

mariadb_restart_server() {
	mariadb_launch
}
