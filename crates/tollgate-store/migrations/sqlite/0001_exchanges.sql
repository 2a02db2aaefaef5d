CREATE TABLE exchanges (
    id                  TEXT PRIMARY KEY,
    request_id          TEXT NOT NULL,
    started_at_ms       INTEGER NOT NULL,
    client_dialect      TEXT NOT NULL,
    endpoint            TEXT NOT NULL,
    key_name            TEXT,
    user_agent          TEXT,
    provider            TEXT,
    model_requested     TEXT,
    model_served        TEXT,
    route_reason        TEXT,
    stream              INTEGER NOT NULL,
    status              INTEGER NOT NULL,
    outcome             TEXT NOT NULL,
    error_type          TEXT,
    error_message       TEXT,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens   INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens  INTEGER NOT NULL DEFAULT 0,
    stop_reason         TEXT,
    ttfb_ms             INTEGER,
    total_ms            INTEGER NOT NULL,
    upstream_request_id TEXT,
    request_body        BLOB,
    response_body       BLOB
);

CREATE INDEX exchanges_started_at ON exchanges (started_at_ms);
CREATE INDEX exchanges_request_id ON exchanges (request_id);
