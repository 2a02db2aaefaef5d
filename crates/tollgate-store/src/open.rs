//! Opening a store from configuration: a URL or a path picks the backend. URLs are redacted
//! before they reach any error message or log line.

use std::path::Path;
use std::sync::Arc;

use crate::{PostgresStore, SqliteStore, Store, StoreError};

/// Opens the store `target` names and applies its migrations:
/// - `postgres://...` or `postgresql://...`: [`PostgresStore`];
/// - `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`: [`SqliteStore`];
/// - anything without a `scheme://`: a path to a SQLite file (its directory is created).
pub async fn open(target: &str) -> Result<Arc<dyn Store>, StoreError> {
    let lower = target.trim_start().to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(target).await?))
    } else if lower.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open_url(target).await?))
    } else if has_scheme(target) {
        Err(StoreError::UnsupportedUrl { url: redact_url(target) })
    } else {
        Ok(Arc::new(SqliteStore::open(Path::new(target)).await?))
    }
}

/// `scheme://` at the start, scheme as RFC 3986 spells it. A Windows path (`C:\...`) has none.
fn has_scheme(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        scheme.len() > 1
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

/// `url` with any password replaced by `***`: the one in the user info
/// (`postgres://user:secret@host`) and a `password=` query parameter. Safe to log. When in doubt
/// (characters a valid URL would have encoded) it hides more, never less.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return redact_query(url) };
    let mut out = format!("{scheme}://");
    // The last `@` ends the user info: an unencoded password may itself hold `@`, `/` or `?`.
    match rest.rsplit_once('@') {
        Some((userinfo, tail)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                // No user info after all, but an `@` in the query: redact that part too.
                None => out.push_str(&redact_query(userinfo)),
            }
            out.push('@');
            out.push_str(&redact_query(tail));
        }
        None => out.push_str(&redact_query(rest)),
    }
    out
}

fn redact_query(s: &str) -> String {
    let Some((before, query)) = s.split_once('?') else { return s.to_owned() };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
            _ => param.to_owned(),
        })
        .collect();
    format!("{before}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        for (url, want) in [
            ("postgres://u:s3cr@t@db:5432/x", "postgres://u:***@db:5432/x"),
            ("postgresql://u@db/x", "postgresql://u@db/x"),
            (
                "postgres://db/x?sslmode=require&password=p&user=u",
                "postgres://db/x?sslmode=require&password=***&user=u",
            ),
            ("postgres://u:p@db", "postgres://u:***@db"),
            ("postgres://u:a/b?c@db/x", "postgres://u:***@db/x"),
            ("postgres://db/x?password=p&app=a@b", "postgres://db/x?password=***&app=a@b"),
            ("sqlite:///var/lib/t.db", "sqlite:///var/lib/t.db"),
            ("/data/t.db", "/data/t.db"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn schemes_are_told_from_paths() {
        assert!(has_scheme("mysql://u:p@h/db"));
        assert!(!has_scheme("C:\\data\\t.db"));
        assert!(!has_scheme("/data/t.db"));
        assert!(!has_scheme("data/a://b"));
    }

    #[tokio::test]
    async fn paths_and_sqlite_urls_open_sqlite_and_coerce_to_each_role() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/history.db");
        let store = open(path.to_str().unwrap()).await.unwrap();
        let log: Arc<dyn crate::ExchangeLog> = store.clone();
        log.ping().await.unwrap();
        let url = format!("sqlite://{}", dir.path().join("c/d/history.db").display());
        let query: Arc<dyn crate::HistoryQuery> = open(&url).await.unwrap();
        assert!(query.list_sessions(&Default::default()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn in_memory_sqlite_is_one_database_across_connections() {
        let store = open("sqlite::memory:").await.unwrap();
        let record = crate::ExchangeRecord { id: "x".into(), ..Default::default() };
        store.append(std::slice::from_ref(&record)).await.unwrap();
        // More reads at once than one connection serves: each new connection sees the data.
        let reads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.recent(1).await })
            })
            .collect();
        for read in reads {
            assert_eq!(read.await.unwrap().unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused_with_the_password_redacted() {
        let err = open("mysql://u:hunter2@h/db").await.err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("mysql://u:***@h/db"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
