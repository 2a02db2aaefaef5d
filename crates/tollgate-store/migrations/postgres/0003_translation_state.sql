-- What translation remembers between turns, so a restart or another replica loses nothing a
-- client cannot carry back: a Responses conversation under the response id Tollgate issued,
-- thinking an OpenAI Chat client cannot return under its tool-call ids. `kind` names which;
-- `value` is opaque to the store (the server writes JSON). Rows are replaced whole and purged
-- by age. The same table as SQLite's 0004, with PostgreSQL's types; `kind` and `key` collate
-- as "C": they are ids, compared byte for byte whatever the database's locale.

CREATE TABLE translation_state (
    kind          TEXT COLLATE "C" NOT NULL,
    key           TEXT COLLATE "C" NOT NULL,
    value         BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);

CREATE INDEX translation_state_created_at ON translation_state (created_at_ms);
