//! Server-Sent Events, decoded as the WHATWG HTML standard describes (lines end in `\n`, `\r\n`
//! or `\r`; a blank line dispatches; `data` lines join with `\n`; one leading space after the
//! colon is dropped; comments start with `:`).
//!
//! The decoder is sans-IO: push byte chunks in, take frames out. It also tracks the absolute
//! offset just past the last blank line, the *boundary*, so a forwarding proxy can pass bytes
//! through unchanged while never handing the client half a frame: if the upstream breaks off,
//! everything the client saw is whole, and an error event can follow cleanly.

use std::ops::Range;

use memchr::memchr2;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseFrame {
    /// The `event:` field, when the frame had one.
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: String,
}

impl SseFrame {
    pub fn new(event: Option<&str>, data: impl Into<String>) -> Self {
        Self { event: event.map(str::to_owned), data: data.into() }
    }
}

#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of the line being read, when a chunk ended inside it.
    line: Vec<u8>,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// Bytes fed so far.
    fed: u64,
    /// Offset just past the last blank line.
    boundary: u64,
    /// The previous chunk ended in `\r`, so a leading `\n` belongs to that line ending.
    after_cr: bool,
    /// Whether any byte has been seen (a UTF-8 BOM is only skipped at the very start).
    started: bool,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Absolute offset just past the last event boundary (blank line) seen so far.
    pub fn boundary(&self) -> u64 {
        self.boundary
    }

    /// Total bytes fed.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    /// Whether bytes of an unfinished event are pending (fed but not yet ended by a blank line).
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || self.has_data || self.event.is_some()
    }

    /// Feeds one chunk and appends every frame it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseFrame>) {
        self.feed_with(chunk, |frame, _| out.push(frame));
    }

    /// Feeds one chunk and appends every frame it completes to `out` with the absolute byte
    /// range it occupied: from the boundary before it to the boundary after it.
    pub fn feed_spans(&mut self, chunk: &[u8], out: &mut Vec<(SseFrame, Range<u64>)>) {
        self.feed_with(chunk, |frame, span| out.push((frame, span)));
    }

    fn feed_with(&mut self, mut chunk: &[u8], mut emit: impl FnMut(SseFrame, Range<u64>)) {
        let start = self.fed;
        self.fed += chunk.len() as u64;
        let mut pos = start;
        if !self.started && !chunk.is_empty() {
            self.started = true;
            if let Some(rest) = chunk.strip_prefix(b"\xEF\xBB\xBF") {
                chunk = rest;
                pos += 3;
            }
        }
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
                pos += 1;
            }
        }
        while let Some(i) = memchr2(b'\n', b'\r', chunk) {
            let mut end = i + 1;
            if chunk[i] == b'\r' {
                match chunk.get(i + 1) {
                    Some(b'\n') => end += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let line = if self.line.is_empty() {
                self.process_line(&chunk[..i])
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&chunk[..i]);
                let outcome = self.process_line(&line);
                line.clear();
                self.line = line;
                outcome
            };
            pos += end as u64;
            match line {
                Line::Field => {}
                Line::Blank(frame) => {
                    let start = std::mem::replace(&mut self.boundary, pos);
                    if let Some(frame) = frame {
                        emit(frame, start..pos);
                    }
                }
            }
            chunk = &chunk[end..];
        }
        self.line.extend_from_slice(chunk);
    }

    /// Ends the stream. Returns true when an unfinished event was discarded, as the standard
    /// requires: at end of input only whole events count.
    pub fn finish(&mut self) -> bool {
        let partial = self.has_partial();
        self.line.clear();
        self.event = None;
        self.data.clear();
        self.has_data = false;
        partial
    }

    fn process_line(&mut self, line: &[u8]) -> Line {
        if line.is_empty() {
            if !self.has_data {
                self.event = None;
                return Line::Blank(None);
            }
            if self.data.ends_with('\n') {
                self.data.pop();
            }
            self.has_data = false;
            let frame = SseFrame { event: self.event.take(), data: std::mem::take(&mut self.data) };
            return Line::Blank(Some(frame));
        }
        if line[0] == b':' {
            return Line::Field;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(c) => {
                let value = &line[c + 1..];
                (&line[..c], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"data" => {
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
                self.has_data = true;
            }
            // `id` and `retry` matter to browsers reconnecting, not to a proxy.
            _ => {}
        }
        Line::Field
    }
}

enum Line {
    Field,
    /// An event boundary, with the frame it completed when it had data.
    Blank(Option<SseFrame>),
}

/// Writes one frame. Multi-line data becomes several `data:` lines.
pub fn write_frame(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// An SSE comment line, used as a keep-alive that every client parser ignores.
pub const KEEPALIVE: &[u8] = b": keep-alive\n\n";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(chunks: &[&[u8]]) -> (Vec<SseFrame>, SseDecoder) {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, &mut out);
        }
        (out, d)
    }

    #[test]
    fn named_events_and_multiline_data() {
        let (frames, d) = decode_all(&[
            b"event: message_start\ndata: {\"a\":1}\n\n: ping\n\ndata: x\ndata:y\n\n",
        ]);
        assert_eq!(
            frames,
            vec![SseFrame::new(Some("message_start"), "{\"a\":1}"), SseFrame::new(None, "x\ny")]
        );
        assert_eq!(d.boundary(), d.fed());
    }

    #[test]
    fn crlf_and_cr_line_endings_split_across_chunks() {
        let (frames, d) = decode_all(&[b"data: a\r", b"\n\r", b"\ndata: b\r\r"]);
        assert_eq!(frames, vec![SseFrame::new(None, "a"), SseFrame::new(None, "b")]);
        assert_eq!(d.boundary(), 20);
        assert_eq!(d.fed(), 20);
    }

    #[test]
    fn an_empty_chunk_between_cr_and_lf_changes_nothing() {
        let (frames, _) = decode_all(&[b"event: e\r\ndata: x\r", b"", b"\n\r\n"]);
        assert_eq!(frames, vec![SseFrame::new(Some("e"), "x")]);
    }

    #[test]
    fn boundary_stops_before_a_partial_frame() {
        let (frames, mut d) = decode_all(&[b"data: one\n\ndata: tw"]);
        assert_eq!(frames.len(), 1);
        assert_eq!(d.boundary(), 11);
        assert!(d.has_partial());
        assert!(d.finish());
    }

    #[test]
    fn spans_cover_each_frame_and_its_preceding_comments() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.feed_spans(b": hi\n\ndata: a\n\nevent: e\ndata: b\n\n", &mut out);
        let spans: Vec<_> = out.iter().map(|(_, s)| s.clone()).collect();
        assert_eq!(spans, vec![6..15, 15..33]);
    }

    #[test]
    fn event_without_data_is_not_dispatched() {
        let (frames, _) = decode_all(&[b"event: ping\n\ndata: z\n\n"]);
        assert_eq!(frames, vec![SseFrame::new(None, "z")]);
    }

    #[test]
    fn leading_bom_is_skipped_and_field_without_colon_is_empty() {
        let (frames, _) = decode_all(&[b"\xEF\xBB\xBFdata\n\n"]);
        assert_eq!(frames, vec![SseFrame::new(None, "")]);
    }

    #[test]
    fn encoder_round_trips() {
        let mut out = Vec::new();
        write_frame(&mut out, Some("error"), "line1\nline2");
        let (frames, _) = decode_all(&[&out]);
        assert_eq!(frames, vec![SseFrame::new(Some("error"), "line1\nline2")]);
    }

    const STREAM: &[u8] = b"event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n: c\n\nevent: content_block_delta\ndata: {\"t\":\"h\xC3\xA9llo\"}\n\ndata: [DONE]\r\rdata: tail";

    proptest! {
        #[test]
        fn any_split_decodes_the_same(cuts in proptest::collection::vec(0..STREAM.len(), 0..12)) {
            let (whole, wd) = decode_all(&[STREAM]);
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut d = SseDecoder::new();
            let mut out = Vec::new();
            let mut prev = 0;
            for c in cuts.into_iter().chain([STREAM.len()]) {
                d.feed(&STREAM[prev..c], &mut out);
                prev = c;
            }
            prop_assert_eq!(out, whole);
            prop_assert_eq!(d.boundary(), wd.boundary());
        }
    }
}
