-- mysql-schema.sql -- warp-logd's tables for MySQL/MariaDB (schema version 2).
--
-- warp-logd creates and migrates these itself (table schema_version) when
-- its account may CREATE/ALTER; this file is for sites that create tables
-- by hand and grant warp-logd only INSERT/SELECT:
--
--   mariadb -u root -e "CREATE DATABASE warp CHARACTER SET utf8mb4"
--   mariadb -u root warp < conf/mysql-schema.sql
--   mariadb -u root -e "CREATE USER 'warp'@'localhost' IDENTIFIED BY '...';
--       GRANT SELECT, INSERT, CREATE, ALTER, INDEX ON warp.* TO 'warp'@'localhost'"
--
-- connections and communications are the original warp's tables with the
-- original columns; dashboards written for it keep working.  warp adds
-- seq (the event's number within its connection) with
-- UNIQUE (connection_id, seq), which is what makes replayed events
-- harmless (INSERT IGNORE), and the extended tables below.
-- communications.id is a ULID derived from (connection_id, seq) and the
-- event's time; occurred_at is UTC.  ALTER ... IF NOT EXISTS needs MariaDB.

CREATE TABLE IF NOT EXISTS schema_version (
  version INT NOT NULL,
  applied_at timestamp(6) NULL
);

-- version 1: the original tables
CREATE TABLE IF NOT EXISTS connections (
  id varchar(26) NOT NULL,
  mail_from TEXT,
  mail_to TEXT,
  occurred_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  elapse bigint,
  PRIMARY KEY (id)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS communications (
  id varchar(26) NOT NULL,
  connection_id varchar(26),
  direction varchar(2),
  data TEXT,
  occurred_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id)
) DEFAULT CHARSET=utf8mb4;

INSERT INTO schema_version SELECT 1, CURRENT_TIMESTAMP(6) FROM DUAL
  WHERE NOT EXISTS (SELECT 1 FROM schema_version WHERE version = 1);

-- version 2: event ids and the extended tables
ALTER TABLE communications ADD COLUMN IF NOT EXISTS seq INT UNSIGNED;
CREATE UNIQUE INDEX IF NOT EXISTS communications_event
  ON communications (connection_id, seq);
ALTER TABLE connections ADD COLUMN IF NOT EXISTS seq INT UNSIGNED;

CREATE TABLE IF NOT EXISTS connection_details (
  connection_id varchar(26) NOT NULL,
  client_addr varchar(64), orig_dst_addr varchar(64),
  outbound_addr varchar(64), destination_host varchar(255),
  helo varchar(255),
  message_count INT UNSIGNED, bytes_total BIGINT UNSIGNED,
  tls_version varchar(32), tls_cipher varchar(128),
  client_tls_version varchar(32), client_tls_cipher varchar(128),
  banner_ms BIGINT, ehlo_ms BIGINT, mail_ms BIGINT, rcpt_ms BIGINT,
  data_ms BIGINT, eod_ms BIGINT, total_ms BIGINT,
  final_code INT UNSIGNED, final_text TEXT, verdict varchar(32),
  route_pool varchar(64), route_reason TEXT, close_reason varchar(64),
  PRIMARY KEY (connection_id)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS transactions (
  connection_id varchar(26) NOT NULL, idx INT UNSIGNED NOT NULL,
  mail_from TEXT, mail_params TEXT, rcpt_to TEXT,
  size BIGINT UNSIGNED, final_code INT UNSIGNED, final_text TEXT,
  verdict varchar(32), data_ms BIGINT, eod_ms BIGINT,
  elapse_ms BIGINT, message_id TEXT,
  PRIMARY KEY (connection_id, idx)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS recipients (
  connection_id varchar(26) NOT NULL, txn INT UNSIGNED NOT NULL,
  idx INT UNSIGNED NOT NULL, address TEXT, code INT UNSIGNED,
  text TEXT,
  PRIMARY KEY (connection_id, txn, idx)
) DEFAULT CHARSET=utf8mb4;

CREATE INDEX IF NOT EXISTS connections_occurred_at ON connections (occurred_at);

INSERT INTO schema_version SELECT 2, CURRENT_TIMESTAMP(6) FROM DUAL
  WHERE NOT EXISTS (SELECT 1 FROM schema_version WHERE version = 2);

-- Version 3: TEXT holds 65,535 bytes; a longer reply or header section
-- would be cut short.  MEDIUMTEXT (16 MiB) reads back the same.
ALTER TABLE communications MODIFY data MEDIUMTEXT;

INSERT INTO schema_version SELECT 3, CURRENT_TIMESTAMP(6) FROM DUAL
  WHERE NOT EXISTS (SELECT 1 FROM schema_version WHERE version = 3);

-- Version 4: each recipient's own time, RCPT sent -> its reply.
ALTER TABLE recipients ADD COLUMN IF NOT EXISTS ms BIGINT;

INSERT INTO schema_version SELECT 4, CURRENT_TIMESTAMP(6) FROM DUAL
  WHERE NOT EXISTS (SELECT 1 FROM schema_version WHERE version = 4);
