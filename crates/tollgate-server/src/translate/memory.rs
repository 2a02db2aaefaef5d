//! What the gateway remembers between turns so translation loses nothing a client cannot carry:
//!
//! - **Thinking for OpenAI Chat clients.** Chat has no field to send thinking back, yet Claude
//!   rejects a tool loop whose assistant turn lost its thinking. The blocks are kept here, keyed
//!   by the turn's tool-call ids, and put back when the client continues the loop.
//! - **Signature origins.** Which provider and model family issued each thinking signature this
//!   gateway relayed, so a signature is replayed only to its issuer and stripped elsewhere.
//! - **Responses conversations.** `previous_response_id` against a stateless provider: the
//!   conversation up to each response, keyed by the response id Tollgate gave it.
//!
//! All three are bounded and in memory, and the first two are also written to the store
//! (`translation_state`, read back on a miss), so they survive a restart and are shared by
//! replicas on one PostgreSQL; entries older than [`STATE_TTL`] are purged. Signature issuers
//! stay in memory only: without one, a same-dialect body passes through as it came. Whatever is
//! missing degrades as documented (thinking dropped and disabled for that turn; an unknown
//! `previous_response_id` is a 400), never into a provider error.

use crate::clock::now_ms;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use tollgate_store::Store;
use tollgate_wire::canonical::{self, Block, Message, Origin, Request, Role};
use tollgate_wire::responses::Sealer;

/// How long the durable state is kept: long enough to resume a session a week later.
pub const STATE_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);
/// `translation_state` kinds.
const KIND_CONVERSATION: &str = "responses_conversation";
const KIND_CHAT_THINKING: &str = "chat_thinking";

/// Entries kept per map. A Claude Code session makes a few tool calls a minute; this holds the
/// recent loops of many concurrent sessions at a few MiB.
const CAPACITY: usize = 20_000;
/// Responses conversations are whole transcripts, so fewer are kept.
const CONVERSATIONS: usize = 2_000;

/// A map that forgets its oldest entries past a capacity.
struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    fn new(capacity: usize) -> Self {
        Self { map: HashMap::new(), order: VecDeque::new(), capacity }
    }

    fn insert(&mut self, k: K, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }

    fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }
}

/// The conversation as of one Responses-API response.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Conversation {
    pub messages: Vec<Message>,
}

pub struct Memory {
    /// Seals thinking into the `encrypted_content` of Responses reasoning items and opens it
    /// when a client sends them back.
    pub sealer: Sealer,
    thinking: Mutex<Bounded<String, Arc<Vec<Block>>>>,
    signatures: Mutex<Bounded<String, Origin>>,
    conversations: Mutex<Bounded<String, Arc<Conversation>>>,
}

impl Default for Memory {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl Memory {
    /// `secret` keys the seal: the master key, so replicas sharing it open each other's seals
    /// and a seal from another gateway is refused. Without one, a random key (seals then last as
    /// long as the process).
    pub fn new(secret: &[u8]) -> Self {
        let key: [u8; 32] = if secret.is_empty() {
            rand::random()
        } else {
            Sha256::new()
                .chain_update(b"tollgate reasoning seal v1\0")
                .chain_update(secret)
                .finalize()
                .into()
        };
        Self {
            sealer: Sealer::new(&key),
            thinking: Mutex::new(Bounded::new(CAPACITY)),
            signatures: Mutex::new(Bounded::new(CAPACITY)),
            conversations: Mutex::new(Bounded::new(CONVERSATIONS)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Memory {
    /// Notes what a finished answer carried: who signed its thinking, and (for clients that
    /// cannot carry thinking back) the thinking itself under each tool-call id.
    pub fn remember_answer(&self, content: &[Block], keep_thinking_for_tool_calls: bool) {
        let thinking: Vec<Block> = content
            .iter()
            .filter(|b| matches!(b, Block::Thinking(_) | Block::RedactedThinking(_)))
            .cloned()
            .collect();
        if thinking.is_empty() {
            return;
        }
        {
            let mut sigs = lock(&self.signatures);
            for b in &thinking {
                if let Block::Thinking(t) = b
                    && let (Some(sig), Some(origin)) = (&t.signature, &t.origin)
                {
                    sigs.insert(sig.clone(), origin.clone());
                }
            }
        }
        if keep_thinking_for_tool_calls {
            let shared = Arc::new(thinking);
            let mut store = lock(&self.thinking);
            for b in content {
                if let Block::ToolUse(t) = b {
                    store.insert(t.id.clone(), shared.clone());
                }
            }
        }
    }

    /// Before encoding a request: thinking a Chat client could not carry is put back at the
    /// start of the assistant turns it belonged to, and every thinking block's origin is filled
    /// in from the signatures this gateway relayed.
    pub fn restore(&self, req: &mut Request, restore_thinking: bool) {
        if restore_thinking {
            let store = lock(&self.thinking);
            for m in req.messages.iter_mut().filter(|m| m.role == Role::Assistant) {
                if m.content.iter().any(|b| matches!(b, Block::Thinking(_))) {
                    continue;
                }
                let found = m.content.iter().find_map(|b| match b {
                    Block::ToolUse(t) => store.get(&t.id).cloned(),
                    _ => None,
                });
                if let Some(blocks) = found {
                    m.content.splice(0..0, blocks.iter().cloned());
                }
            }
        }
        let sigs = lock(&self.signatures);
        for m in &mut req.messages {
            for b in &mut m.content {
                if let Block::Thinking(t) = b
                    && t.origin.is_none()
                    && let Some(sig) = &t.signature
                    && let Some(origin) = sigs.get(sig)
                {
                    t.origin = Some(origin.clone());
                }
            }
        }
    }

    /// Whether an Anthropic body about to pass through untranslated replays a thinking signature
    /// this gateway saw issued by another provider or model family (a session resumed on another
    /// model). Such a body goes through the canonical model instead, which strips those blocks.
    /// Cheap when it cannot apply: no recorded signatures, or no `"signature"` in the bytes.
    pub fn replays_foreign_thinking(&self, body: &[u8], target: &Origin) -> bool {
        #[derive(serde::Deserialize)]
        struct Body<'a> {
            #[serde(borrow, default)]
            messages: Vec<Msg<'a>>,
        }
        #[derive(serde::Deserialize)]
        struct Msg<'a> {
            #[serde(borrow, default)]
            content: Option<Content<'a>>,
        }
        /// Blocks, or anything else (a string): only blocks can carry thinking.
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Content<'a> {
            #[serde(borrow)]
            Blocks(Vec<Blk<'a>>),
            Other(serde::de::IgnoredAny),
        }
        #[derive(serde::Deserialize)]
        struct Blk<'a> {
            #[serde(borrow, default)]
            signature: Option<std::borrow::Cow<'a, str>>,
        }
        // Thinking that came without a signature can never go to Anthropic.
        if memchr::memmem::find(body, canonical::UNSIGNED_PREFIX.as_bytes()).is_some() {
            return true;
        }
        let sigs = lock(&self.signatures);
        if sigs.map.is_empty() || memchr::memmem::find(body, b"\"signature\"").is_none() {
            return false;
        }
        let Ok(parsed) = serde_json::from_slice::<Body<'_>>(body) else { return false };
        parsed.messages.iter().any(|m| match &m.content {
            Some(Content::Blocks(blocks)) => blocks.iter().any(|b| {
                b.signature
                    .as_deref()
                    .and_then(|s| sigs.get(&s.to_owned()))
                    .is_some_and(|origin| origin != target)
            }),
            _ => false,
        })
    }

    pub fn conversation(&self, response_id: &str) -> Option<Arc<Conversation>> {
        lock(&self.conversations).get(&response_id.to_owned()).cloned()
    }

    pub fn keep_conversation(&self, response_id: String, conversation: Conversation) {
        lock(&self.conversations).insert(response_id, Arc::new(conversation));
    }
}

/// The durable half: written behind the request, read on a miss.
impl Memory {
    /// Writes what [`Memory::remember_answer`] and [`Memory::keep_conversation`] kept to the
    /// store, in the background (a failure is logged; the in-memory copy still serves this
    /// replica).
    pub fn persist(
        store: Arc<dyn Store>,
        thinking: Option<(Vec<String>, Vec<Block>)>,
        conversation: Option<(String, Conversation)>,
    ) {
        let now = now_ms();
        tokio::spawn(async move {
            if let Some((ids, blocks)) = thinking
                && let Ok(value) = serde_json::to_vec(&blocks)
            {
                for id in ids {
                    if let Err(e) = store.put_state(KIND_CHAT_THINKING, &id, &value, now).await {
                        tracing::warn!(error = %e, "translation state: could not keep thinking");
                    }
                }
            }
            if let Some((id, conversation)) = conversation
                && let Ok(value) = serde_json::to_vec(&conversation)
                && let Err(e) = store.put_state(KIND_CONVERSATION, &id, &value, now).await
            {
                tracing::warn!(error = %e, "translation state: could not keep the conversation");
            }
        });
    }

    /// The conversation of a response id: from memory, else from the store.
    pub async fn find_conversation(
        &self,
        store: &dyn Store,
        response_id: &str,
    ) -> Option<Arc<Conversation>> {
        if let Some(c) = self.conversation(response_id) {
            return Some(c);
        }
        let bytes = match store.get_state(KIND_CONVERSATION, response_id).await {
            Ok(b) => b?,
            Err(e) => {
                tracing::warn!(error = %e, "translation state: could not read a conversation");
                return None;
            }
        };
        let c: Conversation = serde_json::from_slice(&bytes).ok()?;
        lock(&self.conversations).insert(response_id.to_owned(), Arc::new(c.clone()));
        Some(Arc::new(c))
    }

    /// Loads from the store the thinking of tool calls a Chat client continues that this
    /// replica does not have in memory, so [`Memory::restore`] finds it.
    pub async fn load_thinking(&self, store: &dyn Store, req: &Request) {
        let wanted: Vec<String> = {
            let known = lock(&self.thinking);
            req.messages
                .iter()
                .filter(|m| m.role == Role::Assistant)
                .filter(|m| !m.content.iter().any(|b| matches!(b, Block::Thinking(_))))
                .filter_map(|m| {
                    m.content.iter().find_map(|b| match b {
                        Block::ToolUse(t) if known.get(&t.id).is_none() => Some(t.id.clone()),
                        _ => None,
                    })
                })
                .collect()
        };
        for id in wanted {
            match store.get_state(KIND_CHAT_THINKING, &id).await {
                Ok(Some(bytes)) => {
                    if let Ok(blocks) = serde_json::from_slice::<Vec<Block>>(&bytes) {
                        lock(&self.thinking).insert(id, Arc::new(blocks));
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "translation state: could not read thinking");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tollgate_wire::canonical::{TextBlock, ThinkingBlock, ToolUse};

    use super::*;

    fn origin() -> Origin {
        Origin { provider: "anthropic".into(), family: "claude-sonnet-4-5".into() }
    }

    fn thinking(sig: &str, origin: Option<Origin>) -> Block {
        Block::Thinking(ThinkingBlock {
            thinking: "hmm".into(),
            signature: Some(sig.into()),
            origin,
        })
    }

    fn tool(id: &str) -> Block {
        Block::ToolUse(ToolUse {
            id: id.into(),
            name: "f".into(),
            input: json!({}),
            cache_control: None,
        })
    }

    #[test]
    fn thinking_comes_back_for_the_tool_loop_it_belonged_to() {
        let m = Memory::default();
        m.remember_answer(&[thinking("sig", Some(origin())), tool("call_1")], true);
        let mut req = Request {
            messages: vec![
                Message { role: Role::User, content: vec![Block::Text(TextBlock::new("q"))] },
                Message { role: Role::Assistant, content: vec![tool("call_1")] },
                Message { role: Role::Assistant, content: vec![tool("call_2")] },
            ],
            ..Request::default()
        };
        m.restore(&mut req, true);
        assert_eq!(req.messages[1].content, vec![thinking("sig", Some(origin())), tool("call_1")]);
        assert_eq!(req.messages[2].content, vec![tool("call_2")], "no thinking was kept for it");
    }

    #[test]
    fn origins_are_filled_from_relayed_signatures_only() {
        let m = Memory::default();
        m.remember_answer(&[thinking("known", Some(origin()))], false);
        let mut req = Request {
            messages: vec![Message {
                role: Role::Assistant,
                content: vec![thinking("known", None), thinking("other", None)],
            }],
            ..Request::default()
        };
        m.restore(&mut req, false);
        assert_eq!(
            req.messages[0].content,
            vec![thinking("known", Some(origin())), thinking("other", None)]
        );
    }

    #[test]
    fn a_body_replaying_thinking_signed_elsewhere_is_spotted() {
        let m = Memory::default();
        let claude = origin();
        let gemini = Origin { provider: "gemini".into(), family: "gemini-2.5-flash".into() };
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"","signature":"sig-g"},{"type":"text","text":"yo"}]}]}"#;
        assert!(!m.replays_foreign_thinking(body, &claude), "nothing recorded yet");
        m.remember_answer(&[thinking("sig-g", Some(gemini.clone()))], false);
        assert!(m.replays_foreign_thinking(body, &claude));
        assert!(!m.replays_foreign_thinking(body, &gemini), "its own issuer");
        let other = br#"{"model":"m","messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"","signature":"sig-unknown"}]}]}"#;
        assert!(!m.replays_foreign_thinking(other, &claude), "unknown signatures pass");
    }

    #[tokio::test]
    async fn another_replica_finds_the_conversation_and_the_thinking_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = tollgate_store::open(dir.path().join("s.db").to_str().unwrap()).await.unwrap();
        let conversation = Conversation {
            messages: vec![
                Message { role: Role::User, content: vec![Block::Text(TextBlock::new("q"))] },
                Message {
                    role: Role::Assistant,
                    content: vec![thinking("sig", Some(origin())), tool("call_1")],
                },
            ],
        };
        Memory::persist(
            store.clone(),
            Some((vec!["call_1".into()], vec![thinking("sig", Some(origin()))])),
            Some(("resp_1".into(), conversation.clone())),
        );
        // A fresh replica (nothing in memory) on the same store.
        let other = Memory::default();
        let mut found = None;
        for _ in 0..200 {
            found = other.find_conversation(store.as_ref(), "resp_1").await;
            if found.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(found.unwrap().messages, conversation.messages);
        assert!(other.find_conversation(store.as_ref(), "resp_unknown").await.is_none());

        let mut req = Request {
            messages: vec![Message { role: Role::Assistant, content: vec![tool("call_1")] }],
            ..Request::default()
        };
        other.load_thinking(store.as_ref(), &req).await;
        other.restore(&mut req, true);
        assert_eq!(req.messages[0].content, vec![thinking("sig", Some(origin())), tool("call_1")]);
    }

    #[test]
    fn bounded_maps_forget_the_oldest() {
        let mut b = Bounded::new(2);
        b.insert(1, "a");
        b.insert(2, "b");
        b.insert(3, "c");
        assert!(b.get(&1).is_none());
        assert_eq!(b.get(&3), Some(&"c"));
    }
}
