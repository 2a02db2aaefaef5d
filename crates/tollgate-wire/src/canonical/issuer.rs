//! Stamping a translated stream with who issued its thinking, as the gateway relays it: every
//! thinking and redacted-thinking block gets its [`Origin`], and for Anthropic clients thinking
//! that came without a signature gets the stand-in ([`super::unsigned_marker`]) just before its
//! block stops, since an Anthropic client treats every thinking block as sealed.

use super::{Block, Delta, Origin, StreamEvent, unsigned_marker};

#[derive(Debug, Clone)]
pub struct IssuerStamp {
    origin: Origin,
    mark_unsigned: bool,
    /// The open thinking block has had a signature (`None`: no thinking block open).
    signed: Option<bool>,
}

impl IssuerStamp {
    pub fn new(origin: Origin, mark_unsigned: bool) -> Self {
        Self { origin, mark_unsigned, signed: None }
    }

    /// Stamps `ev` in place; returns the stand-in signature delta to send before it, when `ev`
    /// closes an unsigned thinking block for a client that needs one.
    pub fn stamp(&mut self, ev: &mut StreamEvent) -> Option<StreamEvent> {
        match ev {
            StreamEvent::BlockStart { block, .. } => {
                self.signed = None;
                match block {
                    Block::Thinking(t) => {
                        t.origin = Some(self.origin.clone());
                        self.signed = Some(t.signature.is_some());
                    }
                    Block::RedactedThinking(r) => r.origin = Some(self.origin.clone()),
                    _ => {}
                }
                None
            }
            StreamEvent::BlockDelta { delta: Delta::Signature(_), .. } => {
                self.signed = Some(true);
                None
            }
            StreamEvent::BlockStop { index } => {
                let unsigned = self.signed.take() == Some(false);
                (self.mark_unsigned && unsigned).then(|| StreamEvent::BlockDelta {
                    index: *index,
                    delta: Delta::Signature(unsigned_marker(&self.origin)),
                })
            }
            _ => None,
        }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::ThinkingBlock;

    #[test]
    fn unsigned_thinking_gets_the_stand_in_only_for_clients_that_need_it() {
        let origin = Origin { provider: "ollama".into(), family: "qwen3".into() };
        let start = || StreamEvent::BlockStart {
            index: 0,
            block: Block::Thinking(ThinkingBlock::default()),
        };
        let mut s = IssuerStamp::new(origin.clone(), true);
        let mut ev = start();
        assert!(s.stamp(&mut ev).is_none());
        let StreamEvent::BlockStart { block: Block::Thinking(t), .. } = &ev else { panic!() };
        assert_eq!(t.origin.as_ref(), Some(&origin));
        let extra = s.stamp(&mut StreamEvent::BlockStop { index: 0 });
        assert_eq!(
            extra,
            Some(StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Signature("tollgate-unsigned:ollama/qwen3".into())
            })
        );
        // Signed thinking, or a client that does not need it: nothing added.
        s.stamp(&mut start());
        s.stamp(&mut StreamEvent::BlockDelta { index: 0, delta: Delta::Signature("s".into()) });
        assert!(s.stamp(&mut StreamEvent::BlockStop { index: 0 }).is_none());
        let mut chat = IssuerStamp::new(origin, false);
        chat.stamp(&mut start());
        assert!(chat.stamp(&mut StreamEvent::BlockStop { index: 0 }).is_none());
    }
}
