-- A records database as schema version 1 software wrote it (frozen: never regenerate).
-- Events carry no boot_id and were hashed without it. Loaded by tests/records/test_migrations.py.
PRAGMA application_id = 1263095634;
PRAGMA user_version = 1;
BEGIN TRANSACTION;
CREATE TABLE chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO "chain_head" VALUES(1,5,'6e8aa6eaedba76e7c785fd4b618e1a91753b0c7d99fa23329f9164fcbc594824');
CREATE TABLE clients (
    client_id       TEXT PRIMARY KEY,      -- pseudonymous, printed on the client's card
    display_name    TEXT,                  -- personal data, optional, erased on deletion
    created_wall_us INTEGER NOT NULL
);
INSERT INTO "clients" VALUES('K7QM-3XPA','Anna Beispiel',1780000000000000);
INSERT INTO "clients" VALUES('9D2R-TB0W',NULL,1780000500000000);
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    wall_us    INTEGER NOT NULL,
    mono_us    INTEGER NOT NULL,
    code       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    details    TEXT NOT NULL,          -- canonical JSON object
    session_id TEXT,                   -- opaque, never a client id
    hash       TEXT NOT NULL           -- hex SHA-256 over previous hash + canonical row
);
INSERT INTO "events" VALUES(1,1780000010000000,110000000,'records.database_created','info','A new records database was created.','{"schema_version":1}',NULL,'3665eac903a879636430c26129668bad44ab49cc5985b117ffb3ffa449c55801');
INSERT INTO "events" VALUES(2,1780000020000000,120000000,'state.ramp_up','info','Ramping up.','{"target_ma":0.8}','5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60','aa961f4ffe4fe07a8686d65599a8439391c13bacd97fd985d1099842c346deb0');
INSERT INTO "events" VALUES(3,1780000030000000,130000000,'state.hold','info','Holding.','{}','5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60','79e999924cec37ea25859a7bbf53b042ec1eeebb4d3845b370036519774405db');
INSERT INTO "events" VALUES(4,1780000040000000,140000000,'fault.contact_lost','high','Contact lost.','{"current_ma":0.12,"load_kohm":140.5}','5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60','453f28ed0a592bb9cff0f2e393272e133ff6965e25fdde2daaa0175cac6efc94');
INSERT INTO "events" VALUES(5,1780000050000000,150000000,'fault.acknowledged','info','Fault acknowledged by the operator.','{"code":"fault.contact_lost"}','5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60','6e8aa6eaedba76e7c785fd4b618e1a91753b0c7d99fa23329f9164fcbc594824');
CREATE TABLE operator_changes (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    wall_us    INTEGER NOT NULL,
    what       TEXT NOT NULL,
    old_value  REAL,
    new_value  REAL
);
INSERT INTO "operator_changes" VALUES(1,'5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60',1780000950000000,'current_ma',0.8,0.7);
CREATE TABLE screening_answers (
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    item_id    TEXT NOT NULL,
    answer_yes INTEGER NOT NULL CHECK (answer_yes IN (0, 1)),
    PRIMARY KEY (session_id, item_id)
) WITHOUT ROWID;
INSERT INTO "screening_answers" VALUES('5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60','epilepsy',0);
INSERT INTO "screening_answers" VALUES('5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60','pacemaker',0);
INSERT INTO "screening_answers" VALUES('5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60','pregnancy',0);
CREATE TABLE sensations (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    wall_us    INTEGER NOT NULL,
    sensation  TEXT NOT NULL CHECK (sensation IN ('tingling', 'warm', 'burning'))
);
INSERT INTO "sensations" VALUES(1,'5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60',1780000900000000,'tingling');
CREATE TABLE sessions (
    session_id        TEXT PRIMARY KEY,
    client_id         TEXT REFERENCES clients(client_id) ON DELETE SET NULL,
    operator          TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('open', 'closed', 'interrupted')),
    started_wall_us   INTEGER NOT NULL,
    ended_wall_us     INTEGER,
    screening_result  TEXT CHECK (screening_result IN ('clear', 'blocked')),
    area              TEXT,
    indication        TEXT,
    program_id        TEXT,
    program_version   TEXT,
    active            TEXT,
    polarity          TEXT,
    electrode_id      TEXT,
    target_current_ma REAL,
    mean_current_ma   REAL,
    peak_current_ma   REAL,
    dose_ma_min       REAL,
    current_stage_s   REAL,
    ramp_events       TEXT NOT NULL DEFAULT '[]',  -- JSON list from the control core
    faults            TEXT NOT NULL DEFAULT '[]',  -- JSON list of fault codes
    stop_reason       TEXT,
    anonymised        INTEGER NOT NULL DEFAULT 0 CHECK (anonymised IN (0, 1))
);
INSERT INTO "sessions" VALUES('5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60','K7QM-3XPA','Eva','closed',1780000100000000,1780001900000000,'clear','face','disincrustation','face.disincrustation','1','NaCl 5 %','negative','face.roller',0.8,0.79,0.81,3.1,240.0,'[{"event":"ramp_up","t_s":0.0},{"event":"hold","t_s":32.0},{"event":"ramp_down","t_s":208.0}]','[]','completed',0);
INSERT INTO "sessions" VALUES('a0b1c2d3e4f5061728394a5b6c7d8e9f','9D2R-TB0W','Eva','open',1780002000000000,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'[]','[]',NULL,0);
CREATE INDEX sessions_by_client ON sessions(client_id, started_wall_us);
CREATE INDEX sensations_by_session ON sensations(session_id);
CREATE INDEX operator_changes_by_session ON operator_changes(session_id);
CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
COMMIT;
