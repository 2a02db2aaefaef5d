//! Search words, split one way for writing and for querying so the two cannot disagree: the
//! terms of a query (both backends), the term array PostgreSQL indexes, and the snippet
//! PostgreSQL shows around a match (SQLite's comes from FTS5). No SQL here.
//!
//! A word is a run of letters, numbers (Unicode general categories L and N) and private-use
//! characters: what FTS5's `unicode61` tokenizer counts as token characters. Not `char::
//! is_alphanumeric`, which also takes the vowel signs of Indic scripts: FTS5 splits there, so a
//! query term holding one would be a phrase to FTS5, which SQLite's index (`detail=column`, no
//! positions) refuses. A term is a word lower-cased.

use std::borrow::Cow;
use std::collections::HashMap;

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::{SNIPPET_CLOSE, SNIPPET_OPEN};

/// Distinct terms PostgreSQL indexes per exchange, the first ones met. Search text is at most
/// 32 KB, typically ~8 KB with a few hundred distinct words, so the cap only bites on
/// pathological text (hex dumps, generated identifiers); it bounds the array and the GIN work
/// per row. A term past the cap is not found in that exchange on PostgreSQL (SQLite indexes
/// every word).
pub(crate) const MAX_INDEXED_TERMS: usize = 4_000;

/// Characters of a term PostgreSQL indexes and compares. A GIN index entry must fit in a
/// third of a page (~2.7 KB), and one over-long word (a base64 blob) would otherwise fail its
/// batch on every retry; 256 characters are at most 1 KB. Longer terms match on this prefix.
pub(crate) const MAX_TERM_CHARS: usize = 256;

/// Words of context in a snippet, counted as FTS5's `snippet()` counts tokens.
pub(crate) const SNIPPET_WORDS: usize = 16;

/// Stands for text left out before or after a snippet.
pub(crate) const SNIPPET_ELLIPSIS: &str = "\u{2026}";

fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number
    ) || c.general_category() == GeneralCategory::PrivateUse
}

/// The byte offset of the first character at or after `from` that is (`word`) or is not a word
/// character; ASCII bytes are judged without decoding, which is most of any text.
fn next_boundary(text: &str, from: usize, word: bool) -> usize {
    let bytes = text.as_bytes();
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        let (is_word, len) = if b.is_ascii() {
            (b.is_ascii_alphanumeric(), 1)
        } else {
            match text[i..].chars().next() {
                Some(c) => (is_word_char(c), c.len_utf8()),
                None => break,
            }
        };
        if is_word == word {
            return i;
        }
        i += len;
    }
    text.len()
}

/// The words of `text` in order, each with its byte offset.
pub(crate) fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = next_boundary(text, at, true);
        if start == text.len() {
            return None;
        }
        at = next_boundary(text, start, false);
        Some((start, &text[start..at]))
    })
}

/// A word as a term: lower-cased, borrowed when it already is.
fn fold(word: &str) -> Cow<'_, str> {
    if word.bytes().any(|b| !b.is_ascii() || b.is_ascii_uppercase()) {
        let mut term = String::new();
        fold_into(word, &mut term);
        Cow::Owned(term)
    } else {
        Cow::Borrowed(word)
    }
}

/// [`fold`] into a buffer that is reused.
fn fold_into(word: &str, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        // `str::to_lowercase`, for its final-sigma rule.
        out.push_str(&word.to_lowercase());
    }
}

/// A term as PostgreSQL indexes and compares it: at most [`MAX_TERM_CHARS`] characters.
pub(crate) fn index_key(term: &str) -> &str {
    // Fewer bytes than the cap means fewer characters too.
    if term.len() <= MAX_TERM_CHARS {
        return term;
    }
    term.char_indices().nth(MAX_TERM_CHARS).map_or(term, |(end, _)| &term[..end])
}

/// The terms a query requires, distinct, in order. A word with punctuation (`src/main.rs`)
/// contributes each of its words; a query without a letter or digit has none.
pub(crate) fn query_terms(query: &str) -> Vec<Cow<'_, str>> {
    let mut terms: Vec<Cow<'_, str>> = Vec::new();
    for (_, word) in words(query) {
        let term = fold(word);
        if !terms.contains(&term) {
            terms.push(term);
        }
    }
    terms
}

/// What PostgreSQL indexes for `text`: its distinct [`index_key`]s, the first
/// [`MAX_INDEXED_TERMS`] met, in the order met. This runs for every record written (~0.1 ms
/// per 8 KB of text, most of it hashing), so a term is copied only the first time it is met,
/// and only if folding changed it.
pub(crate) fn index_terms(text: &str) -> Vec<Cow<'_, str>> {
    // Each term with the position it was first met at.
    let mut seen: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(512);
    let mut folded = String::new();
    for (_, word) in words(text) {
        if word.bytes().any(|b| !b.is_ascii() || b.is_ascii_uppercase()) {
            fold_into(word, &mut folded);
            let key = index_key(&folded);
            if !seen.contains_key(key) {
                let n = seen.len();
                seen.insert(Cow::Owned(key.to_owned()), n);
            }
        } else {
            let n = seen.len();
            seen.entry(Cow::Borrowed(index_key(word))).or_insert(n);
        }
        if seen.len() == MAX_INDEXED_TERMS {
            break;
        }
    }
    let mut terms: Vec<(Cow<'_, str>, usize)> = seen.into_iter().collect();
    terms.sort_unstable_by_key(|(_, n)| *n);
    terms.into_iter().map(|(term, _)| term).collect()
}

/// About [`SNIPPET_WORDS`] words of `text` around the matches of `terms` (from
/// [`query_terms`]), matched words between [`SNIPPET_OPEN`] and [`SNIPPET_CLOSE`], as FTS5's
/// `snippet()` makes them: the window with the most distinct terms (the earliest of equals),
/// its matches centred, [`SNIPPET_ELLIPSIS`] where text is left out. Without a match, the
/// first words.
pub(crate) fn snippet(text: &str, terms: &[Cow<'_, str>]) -> String {
    let keys: Vec<&str> = terms.iter().map(|t| index_key(t)).collect();
    let words: Vec<(usize, &str)> = words(text).collect();
    // For each word, the query term it matches.
    let hits: Vec<Option<usize>> = words
        .iter()
        .map(|(_, w)| {
            let term = fold(w);
            let key = index_key(&term);
            keys.iter().position(|k| *k == key)
        })
        .collect();
    let n = words.len();
    let width = SNIPPET_WORDS.min(n);
    if width == 0 {
        return String::new();
    }

    // The best window starting at a match; then its matches centred in it.
    let mut best: Option<(usize, usize, usize)> = None; // (score, first, last match)
    for first in (0..n).filter(|&i| hits[i].is_some()) {
        let end = (first + width).min(n);
        let mut distinct: Vec<usize> = (first..end).filter_map(|i| hits[i]).collect();
        let count = distinct.len();
        distinct.sort_unstable();
        distinct.dedup();
        let score = distinct.len() * 1000 + count;
        if best.is_none_or(|(s, _, _)| score > s) {
            let last = (first..end).rev().find(|&i| hits[i].is_some()).unwrap_or(first);
            best = Some((score, first, last));
        }
    }
    let start = match best {
        None => 0,
        Some((_, first, last)) => {
            let slack = width - (last - first + 1);
            first.saturating_sub(slack / 2).min(n - width)
        }
    };
    let end = start + width;

    let mut out = String::new();
    let mut at = if start == 0 {
        0
    } else {
        out.push_str(SNIPPET_ELLIPSIS);
        words[start].0
    };
    for i in start..end {
        if hits[i].is_some() {
            let (offset, word) = words[i];
            out.push_str(&text[at..offset]);
            out.push_str(SNIPPET_OPEN);
            out.push_str(word);
            out.push_str(SNIPPET_CLOSE);
            at = offset + word.len();
        }
    }
    if end == n {
        out.push_str(&text[at..]);
    } else {
        let (offset, word) = words[end - 1];
        out.push_str(&text[at..offset + word.len()]);
        out.push_str(SNIPPET_ELLIPSIS);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        words(text).map(|(_, w)| w).collect()
    }

    #[test]
    fn words_are_runs_of_letters_and_numbers() {
        assert_eq!(
            split("fixed src/main.rs, foo-bar_baz!"),
            ["fixed", "src", "main", "rs", "foo", "bar", "baz"]
        );
        assert_eq!(split("  HashMap::new()  "), ["HashMap", "new"]);
        assert_eq!(split("Grüße, 東京 ½ x²"), ["Grüße", "東京", "½", "x²"]);
        assert!(split("").is_empty());
        assert!(split(" -- \"*\" :: ").is_empty());
        let offsets: Vec<usize> = words("a, bc").map(|(o, _)| o).collect();
        assert_eq!(offsets, [0, 3]);
    }

    #[test]
    fn words_split_where_fts5_does() {
        // Vowel signs and viramas are marks, not letters, to FTS5's unicode61 (and to us), so a
        // term never spans them; emoji and symbols separate too.
        assert_eq!(split("हिन्दी"), ["ह", "न", "द"]);
        assert_eq!(split("ok👍done"), ["ok", "done"]);
        assert_eq!(split("a\u{e000}b"), ["a\u{e000}b"], "private use is part of a word");
    }

    #[test]
    fn query_terms_are_lowercase_distinct_and_in_order() {
        assert_eq!(query_terms("Quick  quick LAZY main.rs"), ["quick", "lazy", "main", "rs"]);
        assert_eq!(query_terms("ÉCOLE"), ["école"]);
        assert!(query_terms("\"*\" -- NEAR(").contains(&Cow::Borrowed("near")));
        assert!(query_terms(" ** :: ").is_empty());
    }

    #[test]
    fn index_terms_are_distinct_and_capped() {
        assert_eq!(index_terms("The cat, the CAT and the hat."), ["the", "cat", "and", "hat"]);
        let many: String = (0..MAX_INDEXED_TERMS + 10).map(|i| format!("w{i} ")).collect();
        let terms = index_terms(&many);
        assert_eq!(terms.len(), MAX_INDEXED_TERMS);
        assert_eq!(
            terms.last().map(AsRef::as_ref),
            Some(format!("w{}", MAX_INDEXED_TERMS - 1).as_str())
        );
    }

    #[test]
    fn long_terms_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_TERM_CHARS + 5);
        let terms = index_terms(&long);
        assert_eq!(terms[0].chars().count(), MAX_TERM_CHARS);
        assert_eq!(index_key("short"), "short");
    }

    #[test]
    fn snippets_mark_matches_in_context() {
        let text = "The quick brown fox jumps over the lazy dog";
        assert_eq!(
            snippet(text, &query_terms("FOX")),
            "The quick brown «fox» jumps over the lazy dog"
        );
        assert_eq!(snippet("see src/main.rs.", &query_terms("main.rs")), "see src/«main».«rs».");
    }

    #[test]
    fn snippets_centre_the_best_window() {
        let text: String = (0..40).map(|i| format!("w{i} ")).collect::<String>() + "end.";
        assert_eq!(
            snippet(&text, &query_terms("w20")),
            "…w13 w14 w15 w16 w17 w18 w19 «w20» w21 w22 w23 w24 w25 w26 w27 w28…",
        );
        assert_eq!(
            snippet(&text, &query_terms("end")),
            "…w25 w26 w27 w28 w29 w30 w31 w32 w33 w34 w35 w36 w37 w38 w39 «end».",
        );
        assert_eq!(
            snippet(&text, &query_terms("w0")),
            "«w0» w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15…"
        );
        // The window holding both terms wins over the earlier one holding one.
        let text = "a x b c d e f g h i j k l m n o p q r s t a y";
        assert_eq!(snippet(text, &query_terms("a y")), "…g h i j k l m n o p q r s t «a» «y»");
        assert_eq!(snippet(text, &query_terms("zzz")), "a x b c d e f g h i j k l m n o…");
        assert_eq!(snippet("", &query_terms("a")), "");
    }
}
