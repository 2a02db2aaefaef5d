//! Translation state: opaque values under `(kind, key)`, replaced whole, shared by every handle
//! on one database, purged by age.

use std::sync::Arc;

use tollgate_store::TranslationState;

use crate::harness::{Harness, T0};

const CONVERSATION: &str = "responses_conversation";
const THINKING: &str = "chat_thinking";

/// `len` bytes that neither compress nor read as text: a run of one byte would hide a value
/// cut short or stored compressed and read back wrong.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

pub async fn state_round_trips_and_unknown_keys_are_none(h: &Harness) {
    let state: Arc<dyn TranslationState> = h.store.clone();
    let json = br#"{"messages":[{"role":"user","content":"hi"}]}"#;
    state.put_state(CONVERSATION, "resp_01", json, T0).await.unwrap();
    assert_eq!(state.get_state(CONVERSATION, "resp_01").await.unwrap().as_deref(), Some(&json[..]));

    assert_eq!(state.get_state(CONVERSATION, "resp_02").await.unwrap(), None);
    assert_eq!(state.get_state("no_such_kind", "resp_01").await.unwrap(), None);
    assert_eq!(state.get_state(CONVERSATION, "").await.unwrap(), None);

    // Bytes, not text: every byte value, NUL and invalid UTF-8 included.
    let bytes: Vec<u8> = (0..=255).collect();
    state.put_state(THINKING, "call_bytes", &bytes, T0).await.unwrap();
    assert_eq!(state.get_state(THINKING, "call_bytes").await.unwrap(), Some(bytes));

    // An empty value is a value, not an absence.
    state.put_state(THINKING, "call_empty", b"", T0).await.unwrap();
    assert_eq!(state.get_state(THINKING, "call_empty").await.unwrap(), Some(Vec::new()));

    // Keys are whatever a client sent as an id: any script, punctuation, a NUL, a few hundred
    // bytes.
    let long = format!("toolu_{}", "Ab9_-".repeat(80));
    for key in ["call_ünïcødé_调用_🔧", "a\0b", "x'; DROP TABLE translation_state; --", &long]
    {
        state.put_state(THINKING, key, key.as_bytes(), T0).await.unwrap();
        assert_eq!(
            state.get_state(THINKING, key).await.unwrap().as_deref(),
            Some(key.as_bytes()),
            "{key:?}"
        );
    }
    assert_eq!(state.get_state(THINKING, "a").await.unwrap(), None, "keys match whole");
    assert_eq!(state.get_state(THINKING, "CALL_BYTES").await.unwrap(), None, "and by case");
}

pub async fn state_put_replaces_value_and_creation_time(h: &Harness) {
    h.store.put_state(CONVERSATION, "resp_01", b"first, and longer", T0).await.unwrap();
    h.store.put_state(CONVERSATION, "resp_01", b"second", T0 + 10).await.unwrap();
    assert_eq!(
        h.store.get_state(CONVERSATION, "resp_01").await.unwrap().as_deref(),
        Some(&b"second"[..])
    );
    // The entry is as old as its latest put: a purge between the two times keeps it.
    assert_eq!(h.store.purge_state(T0 + 5).await.unwrap(), 0);
    assert!(h.store.get_state(CONVERSATION, "resp_01").await.unwrap().is_some());
    assert_eq!(h.store.purge_state(T0 + 11).await.unwrap(), 1, "one entry, not two");
}

pub async fn state_kinds_are_separate_namespaces(h: &Harness) {
    h.store.put_state(CONVERSATION, "shared_id", b"conversation", T0).await.unwrap();
    h.store.put_state(THINKING, "shared_id", b"thinking", T0 + 1).await.unwrap();
    assert_eq!(
        h.store.get_state(CONVERSATION, "shared_id").await.unwrap().as_deref(),
        Some(&b"conversation"[..])
    );
    assert_eq!(
        h.store.get_state(THINKING, "shared_id").await.unwrap().as_deref(),
        Some(&b"thinking"[..])
    );
    // Replacing one leaves the other.
    h.store.put_state(THINKING, "shared_id", b"thinking 2", T0 + 2).await.unwrap();
    assert_eq!(
        h.store.get_state(CONVERSATION, "shared_id").await.unwrap().as_deref(),
        Some(&b"conversation"[..])
    );
    // A kind and key do not run together: ("ab", "c") is not ("a", "bc").
    h.store.put_state("ab", "c", b"1", T0).await.unwrap();
    assert_eq!(h.store.get_state("a", "bc").await.unwrap(), None);
}

pub async fn state_large_values_round_trip(h: &Harness) {
    // A whole conversation: 2 MiB, then replaced by a larger one, then by a small one.
    for (len, seed) in [(2 << 20, 7), (3 << 20, 8), (100, 9)] {
        let value = noise(len, seed);
        h.store.put_state(CONVERSATION, "resp_big", &value, T0).await.unwrap();
        let got = h.store.get_state(CONVERSATION, "resp_big").await.unwrap().expect("stored");
        assert_eq!(got.len(), len);
        assert!(got == value, "{len} bytes came back different");
    }
}

pub async fn state_purge_removes_only_older_entries_and_counts_them(h: &Harness) {
    // More old entries than one purge step deletes, across both kinds.
    let old: u32 = 1100;
    for n in 0..old {
        let kind = if n % 2 == 0 { CONVERSATION } else { THINKING };
        h.store.put_state(kind, &format!("old_{n}"), b"x", T0 + i64::from(n)).await.unwrap();
    }
    let cutoff = T0 + 5000;
    h.store.put_state(CONVERSATION, "at_cutoff", b"kept", cutoff).await.unwrap();
    h.store.put_state(THINKING, "newer", b"kept", cutoff + 1).await.unwrap();

    assert_eq!(h.store.purge_state(cutoff).await.unwrap(), u64::from(old));
    assert_eq!(h.store.purge_state(cutoff).await.unwrap(), 0, "nothing left to purge");
    for n in [0, 1, 499, 500, 501, 1099] {
        let kind = if n % 2 == 0 { CONVERSATION } else { THINKING };
        assert_eq!(h.store.get_state(kind, &format!("old_{n}")).await.unwrap(), None, "{n}");
    }
    assert!(h.store.get_state(CONVERSATION, "at_cutoff").await.unwrap().is_some(), "exclusive");
    assert!(h.store.get_state(THINKING, "newer").await.unwrap().is_some());

    // A purged key can be stored again.
    h.store.put_state(CONVERSATION, "old_0", b"again", cutoff).await.unwrap();
    assert_eq!(
        h.store.get_state(CONVERSATION, "old_0").await.unwrap().as_deref(),
        Some(&b"again"[..])
    );
    assert_eq!(h.store.purge_state(cutoff + 2).await.unwrap(), 3);
}

pub async fn state_is_shared_by_handles_and_survives_reopening(h: &Harness) {
    h.store.put_state(CONVERSATION, "resp_01", b"before restart", T0).await.unwrap();
    let again = h.reopen().await;
    assert_eq!(
        again.get_state(CONVERSATION, "resp_01").await.unwrap().as_deref(),
        Some(&b"before restart"[..])
    );
    // Two handles on one database, as two replicas: each sees the other's puts.
    again.put_state(THINKING, "call_1", b"from the other", T0).await.unwrap();
    assert_eq!(
        h.store.get_state(THINKING, "call_1").await.unwrap().as_deref(),
        Some(&b"from the other"[..])
    );

    // Both putting one key at once: every put succeeds and one of the values is kept whole.
    let puts: Vec<_> = (0..16u8)
        .map(|n| {
            let store = if n % 2 == 0 { h.store.clone() } else { again.clone() };
            tokio::spawn(async move {
                let value = noise(64 << 10, u64::from(n) + 1);
                store.put_state(CONVERSATION, "contended", &value, T0 + i64::from(n)).await
            })
        })
        .collect();
    for put in puts {
        put.await.unwrap().unwrap();
    }
    let kept = h.store.get_state(CONVERSATION, "contended").await.unwrap().expect("stored");
    assert!((0..16u8).any(|n| kept == noise(64 << 10, u64::from(n) + 1)), "a whole value");
}
