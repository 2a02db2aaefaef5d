-- What translation remembers between turns, so a restart loses nothing a client cannot carry
-- back: a Responses conversation under the response id Tollgate issued, thinking an OpenAI Chat
-- client cannot return under its tool-call ids. `kind` names which; `value` is opaque to the
-- store (the server writes JSON). Rows are replaced whole and purged by age.
-- A rowid table, not WITHOUT ROWID: values run to megabytes, and WITHOUT ROWID suits small rows.

CREATE TABLE translation_state (
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);

CREATE INDEX translation_state_created_at ON translation_state (created_at_ms);
