/*
 * schema.c -- the event store's tables, as versioned migration steps for
 * SQLite and MySQL/MariaDB, and the SQLite migration runner.
 *
 * Version 1 is the original warp's two tables, created only if missing so
 * a database written by the original is adopted as it is.  Version 2 adds
 * the event id (seq) with UNIQUE (connection_id, seq) -- what makes replays
 * harmless -- and the extended tables.  Version 3 widens MySQL's
 * communications.data to MEDIUMTEXT.  Steps are never edited once
 * released; a change is a new step.  conf/mysql-schema.sql is the MySQL
 * side written out for operators who create tables by hand.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "logd.h"

const struct logd_schema_step logd_schema[] = {
	{ 1,
	  "CREATE TABLE IF NOT EXISTS connections ("
	  " id varchar(26) NOT NULL PRIMARY KEY,"
	  " mail_from TEXT, mail_to TEXT,"
	  " occurred_at timestamp, elapse bigint);"
	  "CREATE TABLE IF NOT EXISTS communications ("
	  " id varchar(26) NOT NULL PRIMARY KEY,"
	  " connection_id varchar(26), direction varchar(2),"
	  " data TEXT, occurred_at timestamp);",

	  "CREATE TABLE IF NOT EXISTS connections ("
	  " id varchar(26) NOT NULL,"
	  " mail_from TEXT, mail_to TEXT,"
	  " occurred_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
	  " elapse bigint,"
	  " PRIMARY KEY (id)) DEFAULT CHARSET=utf8mb4;"
	  "CREATE TABLE IF NOT EXISTS communications ("
	  " id varchar(26) NOT NULL,"
	  " connection_id varchar(26), direction varchar(2),"
	  " data TEXT,"
	  " occurred_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
	  " PRIMARY KEY (id)) DEFAULT CHARSET=utf8mb4;" },
	{ 2,
	  "ALTER TABLE communications ADD COLUMN seq INTEGER;"
	  "CREATE UNIQUE INDEX IF NOT EXISTS communications_event"
	  " ON communications (connection_id, seq);"
	  "ALTER TABLE connections ADD COLUMN seq INTEGER;"
	  "CREATE TABLE IF NOT EXISTS connection_details ("
	  " connection_id varchar(26) NOT NULL PRIMARY KEY,"
	  " client_addr TEXT, orig_dst_addr TEXT, outbound_addr TEXT,"
	  " destination_host TEXT, helo TEXT,"
	  " message_count INTEGER, bytes_total INTEGER,"
	  " tls_version TEXT, tls_cipher TEXT,"
	  " client_tls_version TEXT, client_tls_cipher TEXT,"
	  " banner_ms INTEGER, ehlo_ms INTEGER, mail_ms INTEGER,"
	  " rcpt_ms INTEGER, data_ms INTEGER, eod_ms INTEGER, total_ms INTEGER,"
	  " final_code INTEGER, final_text TEXT, verdict TEXT,"
	  " route_pool TEXT, route_reason TEXT, close_reason TEXT);"
	  "CREATE TABLE IF NOT EXISTS transactions ("
	  " connection_id varchar(26) NOT NULL, idx INTEGER NOT NULL,"
	  " mail_from TEXT, mail_params TEXT, rcpt_to TEXT, size INTEGER,"
	  " final_code INTEGER, final_text TEXT, verdict TEXT,"
	  " data_ms INTEGER, eod_ms INTEGER, elapse_ms INTEGER,"
	  " message_id TEXT,"
	  " PRIMARY KEY (connection_id, idx));"
	  "CREATE TABLE IF NOT EXISTS recipients ("
	  " connection_id varchar(26) NOT NULL, txn INTEGER NOT NULL,"
	  " idx INTEGER NOT NULL, address TEXT, code INTEGER, text TEXT,"
	  " PRIMARY KEY (connection_id, txn, idx));"
	  "CREATE INDEX IF NOT EXISTS connections_occurred_at"
	  " ON connections (occurred_at);",

	  "ALTER TABLE communications ADD COLUMN IF NOT EXISTS seq INT UNSIGNED;"
	  "CREATE UNIQUE INDEX IF NOT EXISTS communications_event"
	  " ON communications (connection_id, seq);"
	  "ALTER TABLE connections ADD COLUMN IF NOT EXISTS seq INT UNSIGNED;"
	  "CREATE TABLE IF NOT EXISTS connection_details ("
	  " connection_id varchar(26) NOT NULL,"
	  " client_addr varchar(64), orig_dst_addr varchar(64),"
	  " outbound_addr varchar(64), destination_host varchar(255),"
	  " helo varchar(255),"
	  " message_count INT UNSIGNED, bytes_total BIGINT UNSIGNED,"
	  " tls_version varchar(32), tls_cipher varchar(128),"
	  " client_tls_version varchar(32), client_tls_cipher varchar(128),"
	  " banner_ms BIGINT, ehlo_ms BIGINT, mail_ms BIGINT, rcpt_ms BIGINT,"
	  " data_ms BIGINT, eod_ms BIGINT, total_ms BIGINT,"
	  " final_code INT UNSIGNED, final_text TEXT, verdict varchar(32),"
	  " route_pool varchar(64), route_reason TEXT, close_reason varchar(64),"
	  " PRIMARY KEY (connection_id)) DEFAULT CHARSET=utf8mb4;"
	  "CREATE TABLE IF NOT EXISTS transactions ("
	  " connection_id varchar(26) NOT NULL, idx INT UNSIGNED NOT NULL,"
	  " mail_from TEXT, mail_params TEXT, rcpt_to TEXT,"
	  " size BIGINT UNSIGNED, final_code INT UNSIGNED, final_text TEXT,"
	  " verdict varchar(32), data_ms BIGINT, eod_ms BIGINT,"
	  " elapse_ms BIGINT, message_id TEXT,"
	  " PRIMARY KEY (connection_id, idx)) DEFAULT CHARSET=utf8mb4;"
	  "CREATE TABLE IF NOT EXISTS recipients ("
	  " connection_id varchar(26) NOT NULL, txn INT UNSIGNED NOT NULL,"
	  " idx INT UNSIGNED NOT NULL, address TEXT, code INT UNSIGNED,"
	  " text TEXT,"
	  " PRIMARY KEY (connection_id, txn, idx)) DEFAULT CHARSET=utf8mb4;"
	  "CREATE INDEX IF NOT EXISTS connections_occurred_at"
	  " ON connections (occurred_at);" },
	/* MySQL's TEXT holds 65,535 bytes and INSERT IGNORE would cut a
	 * longer reply or header section short (with only a warning);
	 * MEDIUMTEXT holds 16 MiB and reads back the same for every client
	 * of the original column.  SQLite's TEXT has no such limit. */
	{ 3,
	  "",
	  "ALTER TABLE communications MODIFY data MEDIUMTEXT;" },
	/* Each recipient's own time, RCPT sent -> its reply (with
	 * pipelining the waits overlap, so rcpt_ms, their sum, is not it). */
	{ 4,
	  "ALTER TABLE recipients ADD COLUMN ms INTEGER;",
	  "ALTER TABLE recipients ADD COLUMN IF NOT EXISTS ms BIGINT;" },
};
const size_t logd_schema_nsteps = WARP_NELEM(logd_schema);

int
logd_sqlite_version(sqlite3 *db)
{
	sqlite3_stmt	*st;
	int		 v = 0;

	if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version",
	    -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int
logd_sqlite_migrate(sqlite3 *db, char *err, size_t errsz)
{
	char	*msg = NULL, *sql;
	size_t	 i;
	int	 v;

	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
	    "version INTEGER NOT NULL, applied_at timestamp)", NULL, NULL,
	    &msg) != SQLITE_OK)
		goto fail;
	v = logd_sqlite_version(db);
	if (v > LOGD_SCHEMA_VERSION) {
		snprintf(err, errsz, "database schema version %d is newer than "
		    "this warp-logd (%d)", v, LOGD_SCHEMA_VERSION);
		return -1;
	}
	for (i = 0; i < logd_schema_nsteps; i++) {
		if (logd_schema[i].version <= v)
			continue;
		sql = xasprintf("BEGIN IMMEDIATE;%s"
		    "INSERT INTO schema_version VALUES (%d, "
		    "strftime('%%Y-%%m-%%d %%H:%%M:%%f+00:00','now'));COMMIT;",
		    logd_schema[i].sqlite, logd_schema[i].version);
		if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
			free(sql);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
		free(sql);
		log_info("sqlite: schema migrated to version %d",
		    logd_schema[i].version);
	}
	return 0;
fail:
	snprintf(err, errsz, "%s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}
