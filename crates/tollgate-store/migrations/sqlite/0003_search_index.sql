-- The search index again, without word positions (`detail = column`): indexing is the bulk of
-- an append's cost, and positions only serve phrase and NEAR queries, which search never makes
-- (a query word with punctuation requires each of its parts; see `terms.rs`). ~55% faster to
-- index, and a smaller index. `snippet()` still works: it re-reads the text from `exchanges`
-- (external content) to find the matches.

DROP TRIGGER exchanges_fts_insert;
DROP TRIGGER exchanges_fts_update;
DROP TABLE exchanges_fts;

CREATE VIRTUAL TABLE exchanges_fts USING fts5 (search_text, content = 'exchanges', content_rowid = 'rowid', tokenize = 'unicode61', detail = column);

CREATE TRIGGER exchanges_fts_insert AFTER INSERT ON exchanges WHEN new.search_text IS NOT NULL BEGIN
    INSERT INTO exchanges_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

CREATE TRIGGER exchanges_fts_update AFTER UPDATE OF search_text ON exchanges BEGIN
    INSERT INTO exchanges_fts (exchanges_fts, rowid, search_text) SELECT 'delete', old.rowid, old.search_text WHERE old.search_text IS NOT NULL;
    INSERT INTO exchanges_fts (rowid, search_text) SELECT new.rowid, new.search_text WHERE new.search_text IS NOT NULL;
END;

-- Indexes the history already stored (once, as this migration runs).
INSERT INTO exchanges_fts (exchanges_fts) VALUES ('rebuild');
