-- Search by terms the writer computes, instead of a generated tsvector: to_tsvector and the
-- word-splitting regexp cost ~1.6 ms per 8 KB row inside the insert, 7x the rest of it. The
-- writer now splits `search_text` in Rust, the way queries are split (`terms.rs`: lower-cased
-- runs of letters and digits, distinct, the first 4,000, each at most 256 characters), and
-- stores them as `search_terms`; search is `search_terms @> <query terms>`, answered by the
-- GIN index. Purging bodies clears `search_terms` with `search_text`.

DROP INDEX exchanges_search;
ALTER TABLE exchanges DROP COLUMN search_tsv;
ALTER TABLE exchanges ADD COLUMN search_terms TEXT[];

-- The history already stored, split in SQL the way the old column split it. An approximation
-- of the writer's split: `[:alnum:]` and lower() follow the database's locale, where the
-- writer uses Unicode's categories and case mapping, so a non-ASCII word may be split or
-- cased differently in these rows. ASCII text is split exactly as the writer splits it.
-- One pass over the table, as this migration runs.
UPDATE exchanges SET search_terms = ARRAY(
    SELECT t.term FROM (
        SELECT left(lower(w.word), 256) AS term, min(w.n) AS first
        FROM regexp_split_to_table(search_text, '[^[:alnum:]]+') WITH ORDINALITY AS w (word, n)
        WHERE w.word <> ''
        GROUP BY 1
    ) t
    ORDER BY t.first
    LIMIT 4000)
WHERE search_text IS NOT NULL;

CREATE INDEX exchanges_search ON exchanges USING GIN (search_terms);
