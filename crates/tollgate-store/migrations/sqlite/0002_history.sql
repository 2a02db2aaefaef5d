-- Sessions, cost, client, forwarded body, reconstructed message, search, retention, policy events.

ALTER TABLE exchanges ADD COLUMN client TEXT;
ALTER TABLE exchanges ADD COLUMN session_id TEXT;
ALTER TABLE exchanges ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE exchanges ADD COLUMN forwarded_body BLOB;
ALTER TABLE exchanges ADD COLUMN response_message BLOB;
ALTER TABLE exchanges ADD COLUMN search_text TEXT;
ALTER TABLE exchanges ADD COLUMN bodies_purged_at_ms INTEGER;

CREATE INDEX exchanges_session ON exchanges (session_id, started_at_ms);
CREATE INDEX exchanges_model ON exchanges (model_requested);
CREATE INDEX exchanges_provider ON exchanges (provider);
CREATE INDEX exchanges_key ON exchanges (key_name);

CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    source             TEXT NOT NULL,
    key_name           TEXT,
    client             TEXT,
    first_seen_ms      INTEGER NOT NULL,
    last_seen_ms       INTEGER NOT NULL,
    preview            TEXT,
    title              TEXT,
    cwd                TEXT,
    git_branch         TEXT,
    exchange_count     INTEGER NOT NULL DEFAULT 0,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros        INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX sessions_last_seen ON sessions (last_seen_ms);

CREATE TABLE policy_events (
    id          TEXT PRIMARY KEY,
    exchange_id TEXT NOT NULL REFERENCES exchanges (id),
    at_ms       INTEGER NOT NULL,
    policy      TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    reason      TEXT,
    detail      TEXT
);

CREATE INDEX policy_events_exchange ON policy_events (exchange_id);

-- Full-text search over search_text, kept in step by triggers. External content: the text is
-- stored once, in exchanges.
CREATE VIRTUAL TABLE exchanges_fts USING fts5 (search_text, content = 'exchanges', content_rowid = 'rowid', tokenize = 'unicode61');

CREATE TRIGGER exchanges_fts_insert AFTER INSERT ON exchanges WHEN new.search_text IS NOT NULL BEGIN
    INSERT INTO exchanges_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

CREATE TRIGGER exchanges_fts_update AFTER UPDATE OF search_text ON exchanges BEGIN
    INSERT INTO exchanges_fts (exchanges_fts, rowid, search_text) SELECT 'delete', old.rowid, old.search_text WHERE old.search_text IS NOT NULL;
    INSERT INTO exchanges_fts (rowid, search_text) SELECT new.rowid, new.search_text WHERE new.search_text IS NOT NULL;
END;
