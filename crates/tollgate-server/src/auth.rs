//! Gateway keys. Clients present one as `x-api-key` (Claude Code) or `Authorization: Bearer`
//! (the current SDKs). Keys are held as SHA-256 digests and compared in constant time against
//! every entry, so neither the comparison nor the number of entries tried leaks through timing.

use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tollgate_config::{KeyConfig, Secret};

#[derive(Debug, Default)]
pub struct KeyRing {
    entries: Vec<(String, [u8; 32])>,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_name: String,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

impl KeyRing {
    pub fn new(master: Option<&Secret>, keys: &[KeyConfig]) -> Self {
        let mut entries = Vec::with_capacity(keys.len() + 1);
        if let Some(m) = master {
            entries.push(("master".to_owned(), digest(m.expose())));
        }
        entries.extend(keys.iter().map(|k| (k.name.clone(), digest(k.key.expose()))));
        Self { entries }
    }

    pub fn check(&self, presented: &str) -> Option<Caller> {
        let d = digest(presented);
        let mut found: Option<&str> = None;
        for (name, key) in &self.entries {
            if bool::from(key.ct_eq(&d)) && found.is_none() {
                found = Some(name);
            }
        }
        found.map(|n| Caller { key_name: n.to_owned() })
    }

    /// Whether `presented` is the master key.
    pub fn is_master(&self, presented: &str) -> bool {
        self.check(presented).is_some_and(|c| c.key_name == "master")
    }
}

/// The key a request presents, from `x-api-key` or `Authorization: Bearer`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(k) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim());
    }
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn checks_master_and_named_keys() {
        let ring = KeyRing::new(
            Some(&Secret::new("m-key")),
            &[KeyConfig { name: "ci".into(), key: Secret::new("ci-key") }],
        );
        assert_eq!(ring.check("m-key").unwrap().key_name, "master");
        assert_eq!(ring.check("ci-key").unwrap().key_name, "ci");
        assert!(ring.check("ci-ke").is_none());
        assert!(ring.check("").is_none());
        assert!(ring.is_master("m-key"));
        assert!(!ring.is_master("ci-key"));
    }

    #[test]
    fn reads_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert_eq!(presented_key(&h), Some("abc"));
        h.insert("x-api-key", HeaderValue::from_static("xyz"));
        assert_eq!(presented_key(&h), Some("xyz"));
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(presented_key(&h), None);
    }
}
