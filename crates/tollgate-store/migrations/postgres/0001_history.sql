-- The history, in one step: the same tables and columns as SQLite's 0001 + 0002.
-- Differences, each for a reason:
-- - BIGINT for every number (unix ms, tokens, micro-dollars, status), BOOLEAN for `stream`,
--   BYTEA for bodies: what the Rust side reads and writes (i64, bool, bytes).
-- - `id` collates as "C": UUIDv7 text ordered by bytes, as in SQLite, whatever the database's
--   locale; newest-first paging compares ids.
-- - Search is a generated tsvector with a GIN index instead of an FTS5 table with triggers.
--   Words are split the way FTS5's unicode61 tokenizer splits them: every run of letters and
--   digits is a word (so `src/main.rs` holds `main`, where PostgreSQL's parser would keep one
--   path token), lower-cased by the 'simple' configuration (no stemming, no stop words).
--   Only the first 100,000 characters are indexed: a tsvector is capped at 1 MB, and an
--   over-long one would fail the insert, and with it the batch, on every retry.

CREATE TABLE exchanges (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    request_id          TEXT NOT NULL,
    started_at_ms       BIGINT NOT NULL,
    client_dialect      TEXT NOT NULL,
    endpoint            TEXT NOT NULL,
    key_name            TEXT,
    user_agent          TEXT,
    client              TEXT,
    session_id          TEXT,
    provider            TEXT,
    model_requested     TEXT,
    model_served        TEXT,
    route_reason        TEXT,
    stream              BOOLEAN NOT NULL,
    status              BIGINT NOT NULL,
    outcome             TEXT NOT NULL,
    error_type          TEXT,
    error_message       TEXT,
    input_tokens        BIGINT NOT NULL DEFAULT 0,
    output_tokens       BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens  BIGINT NOT NULL DEFAULT 0,
    cost_micros         BIGINT NOT NULL DEFAULT 0,
    stop_reason         TEXT,
    ttfb_ms             BIGINT,
    total_ms            BIGINT NOT NULL,
    upstream_request_id TEXT,
    request_body        BYTEA,
    forwarded_body      BYTEA,
    response_body       BYTEA,
    response_message    BYTEA,
    search_text         TEXT,
    bodies_purged_at_ms BIGINT,
    search_tsv          TSVECTOR GENERATED ALWAYS AS
                            (to_tsvector('simple', regexp_replace(
                                left(coalesce(search_text, ''), 100000), '[^[:alnum:]]+', ' ', 'g'))) STORED
);

CREATE INDEX exchanges_started_at ON exchanges (started_at_ms);
CREATE INDEX exchanges_request_id ON exchanges (request_id);
CREATE INDEX exchanges_session ON exchanges (session_id, started_at_ms);
CREATE INDEX exchanges_model ON exchanges (model_requested);
CREATE INDEX exchanges_provider ON exchanges (provider);
CREATE INDEX exchanges_key ON exchanges (key_name);
CREATE INDEX exchanges_search ON exchanges USING GIN (search_tsv);

CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    source             TEXT NOT NULL,
    key_name           TEXT,
    client             TEXT,
    first_seen_ms      BIGINT NOT NULL,
    last_seen_ms       BIGINT NOT NULL,
    preview            TEXT,
    title              TEXT,
    cwd                TEXT,
    git_branch         TEXT,
    exchange_count     BIGINT NOT NULL DEFAULT 0,
    input_tokens       BIGINT NOT NULL DEFAULT 0,
    output_tokens      BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens  BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros        BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX sessions_last_seen ON sessions (last_seen_ms);

CREATE TABLE policy_events (
    id          TEXT PRIMARY KEY,
    exchange_id TEXT COLLATE "C" NOT NULL REFERENCES exchanges (id),
    at_ms       BIGINT NOT NULL,
    policy      TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    reason      TEXT,
    detail      TEXT
);

CREATE INDEX policy_events_exchange ON policy_events (exchange_id);
