//! Thinking blocks carried through a Responses client as a reasoning item's `encrypted_content`.
//!
//! A Responses client (Codex) replays reasoning only as `{"type":"reasoning", encrypted_content}`
//! items. When its turn was answered by another provider (Claude), Tollgate packs that turn's
//! thinking and redacted-thinking blocks, signatures and origins included, into a versioned,
//! HMAC-SHA256-signed string, and unpacks it when the item comes back: `tg1.` +
//! base64url(JSON payload) + `.` + base64url(MAC over everything before the second dot).
//! The payload is signed, not encrypted: the thinking text is what the client already saw as the
//! summary, and the provider's own signatures are opaque to the client anyway. What the MAC buys
//! is that a forged or edited blob never becomes thinking we replay to a provider as genuine.
//! No other block kind is ever sealed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::canonical::{Block, Origin, RedactedThinking, ThinkingBlock};

type HmacSha256 = Hmac<Sha256>;

/// The version prefix. A new payload format gets a new prefix; old blobs stay readable or are
/// refused, never misread.
const PREFIX: &str = "tg1.";

/// Seals and opens thinking blobs with one key (the gateway's sealing secret).
#[derive(Clone)]
pub struct Sealer {
    mac: HmacSha256,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    blocks: Vec<Sealed>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Sealed {
    Thinking {
        thinking: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<SealedOrigin>,
    },
    RedactedThinking {
        data: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<SealedOrigin>,
    },
}

#[derive(Serialize, Deserialize)]
struct SealedOrigin {
    provider: String,
    family: String,
}

impl From<&Origin> for SealedOrigin {
    fn from(o: &Origin) -> Self {
        SealedOrigin { provider: o.provider.clone(), family: o.family.clone() }
    }
}

impl From<SealedOrigin> for Origin {
    fn from(o: SealedOrigin) -> Self {
        Origin { provider: o.provider, family: o.family }
    }
}

impl Sealer {
    /// A sealer keyed with `key` (any length; HMAC hashes long keys itself).
    pub fn new(key: &[u8]) -> Sealer {
        // HMAC takes keys of any length, so this never fails; the zero-key fallback only exists
        // to keep a `Result` from reaching every caller.
        let mac = HmacSha256::new_from_slice(key)
            .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()));
        Sealer { mac }
    }

    /// The thinking and redacted-thinking blocks of `blocks`, in order, as one signed string.
    /// Other blocks are ignored.
    pub fn seal(&self, blocks: &[Block]) -> String {
        let blocks = blocks
            .iter()
            .filter_map(|b| match b {
                Block::Thinking(t) => Some(Sealed::Thinking {
                    thinking: t.thinking.clone(),
                    signature: t.signature.clone(),
                    origin: t.origin.as_ref().map(SealedOrigin::from),
                }),
                Block::RedactedThinking(r) => Some(Sealed::RedactedThinking {
                    data: r.data.clone(),
                    origin: r.origin.as_ref().map(SealedOrigin::from),
                }),
                _ => None,
            })
            .collect();
        // Serialising plain strings into JSON cannot fail; an empty payload would only fail to
        // open, which is the safe direction.
        let json = serde_json::to_vec(&Payload { v: 1, blocks }).unwrap_or_default();
        let mut out = String::with_capacity(PREFIX.len() + json.len() * 4 / 3 + 48);
        out.push_str(PREFIX);
        URL_SAFE_NO_PAD.encode_string(&json, &mut out);
        let tag = self.tag(out.as_bytes());
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut out);
        out
    }

    /// The blocks sealed in `s`, or `None` when `s` is not a blob this key sealed (another
    /// provider's `encrypted_content`, another key, any edit, an unknown version).
    pub fn open(&self, s: &str) -> Option<Vec<Block>> {
        if !s.starts_with(PREFIX) {
            return None;
        }
        let (signed, tag) = s.rsplit_once('.')?;
        let payload = signed.strip_prefix(PREFIX)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        mac.verify_slice(&tag).ok()?;
        let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let payload: Payload = serde_json::from_slice(&json).ok()?;
        if payload.v != 1 {
            return None;
        }
        Some(
            payload
                .blocks
                .into_iter()
                .map(|b| match b {
                    Sealed::Thinking { thinking, signature, origin } => {
                        Block::Thinking(ThinkingBlock {
                            thinking,
                            signature,
                            origin: origin.map(Origin::from),
                        })
                    }
                    Sealed::RedactedThinking { data, origin } => {
                        Block::RedactedThinking(RedactedThinking {
                            data,
                            origin: origin.map(Origin::from),
                        })
                    }
                })
                .collect(),
        )
    }

    /// Whether `s` looks like a Tollgate blob at all (whatever its key), so a blob that fails
    /// to open can be told from another provider's reasoning.
    pub fn is_sealed(s: &str) -> bool {
        s.starts_with(PREFIX)
    }

    fn tag(&self, bytes: &[u8]) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(bytes);
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks() -> Vec<Block> {
        let origin = Origin { provider: "anthropic".into(), family: "claude-sonnet-4-5".into() };
        vec![
            Block::Thinking(ThinkingBlock {
                thinking: "Let me check the files.\n\n\"quoted\" ✓".into(),
                signature: Some("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds".into()),
                origin: Some(origin.clone()),
            }),
            Block::RedactedThinking(RedactedThinking {
                data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP".into(),
                origin: Some(origin),
            }),
            // Signature-only thinking must survive with its empty text.
            Block::Thinking(ThinkingBlock {
                thinking: String::new(),
                signature: Some("sig-only".into()),
                origin: None,
            }),
        ]
    }

    #[test]
    fn round_trip_keeps_text_signatures_data_and_origins() {
        let sealer = Sealer::new(b"k1");
        let mut input = blocks();
        input.push(Block::Text(crate::canonical::TextBlock::new("not sealed")));
        let blob = sealer.seal(&input);
        assert!(blob.starts_with("tg1.") && Sealer::is_sealed(&blob));
        assert!(
            blob.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "url-safe: {blob}"
        );
        assert_eq!(sealer.open(&blob), Some(blocks()));
    }

    #[test]
    fn tampered_blobs_do_not_open() {
        let sealer = Sealer::new(b"k1");
        let blob = sealer.seal(&blocks());
        let (signed, tag) = blob.rsplit_once('.').unwrap();
        // Flip one payload character.
        let mut bytes = signed.as_bytes().to_vec();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let edited = format!("{}.{tag}", String::from_utf8(bytes).unwrap());
        assert_eq!(sealer.open(&edited), None);
        // A truncated tag, a missing tag, garbage.
        assert_eq!(sealer.open(&blob[..blob.len() - 2]), None);
        assert_eq!(sealer.open(signed), None);
        assert_eq!(sealer.open("tg1.!!!.???"), None);
        assert_eq!(sealer.open("tg1."), None);
    }

    #[test]
    fn another_key_does_not_open() {
        let blob = Sealer::new(b"k1").seal(&blocks());
        assert_eq!(Sealer::new(b"k2").open(&blob), None);
    }

    #[test]
    fn openai_encrypted_content_is_not_ours() {
        let sealer = Sealer::new(b"k1");
        let openai =
            "gAAAAABpPDIVOKrsHNZ0GwsoEKA_IGfuJ5f8Ma_6-EojH4yZFL50qlfUzM7FREdQlpkqlnIHLRx2YJxZ";
        assert_eq!(sealer.open(openai), None);
        assert!(!Sealer::is_sealed(openai));
        assert_eq!(sealer.open(""), None);
    }

    #[test]
    fn debug_does_not_print_the_key() {
        assert_eq!(format!("{:?}", Sealer::new(b"secret-key")), "Sealer(..)");
    }
}
