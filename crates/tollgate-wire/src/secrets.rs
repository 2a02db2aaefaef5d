//! Masking secrets in text and JSON bodies before they are stored.
//!
//! [`mask`] works on text, [`mask_json_bytes`] inside the string values of a raw JSON body, so
//! every byte outside a masked span is kept and the body stays valid JSON. [`DETECTORS`] lists
//! what is recognised. Nothing here decides whether to store; it only rewrites.
//!
//! Matching is hand-written rather than regular expressions: one pass over the bytes stops only
//! at the few bytes a secret can start with (see `TRIGGERS`), so text without secrets is scanned
//! at memory speed and returned borrowed, without allocating. The matchers also understand JSON
//! escapes (`\n` inside a PEM key, `\"` around a quoted value), which a regex over raw bytes
//! would not. The cost is that `pattern` in the table is documentation, kept honest by a test
//! per detector.

use std::borrow::Cow;

use memchr::{memchr, memchr2, memmem};

/// One kind of secret: its name is the `<kind>` written in `[REDACTED:<kind>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detector {
    pub name: &'static str,
    pub description: &'static str,
    /// What matches, in regular-expression notation. `<value>` is a credential value: a quoted
    /// literal of 8 or more characters with a digit or a symbol (not a constant name such as
    /// `"caching_sha2_password"`), or an unquoted one of 12 or more in which letters and digits
    /// alternate at least three times and that is not code (`os.environ[..]`, `settings.KEY`,
    /// `crate::Type`, `${VAR}`, `<placeholder>`).
    pub pattern: &'static str,
}

/// Every detector, in the order they are tried where several could match at one place.
pub const DETECTORS: &[Detector] = &[
    Detector {
        name: "private-key",
        description: "PEM private key, BEGIN to END marker (also inside JSON with \\n escapes; a \
                      key with no END is masked to the end of its base64 body)",
        pattern: r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----",
    },
    Detector {
        name: "anthropic-key",
        description: "Anthropic API key or OAuth token",
        pattern: r"\bsk-ant-[A-Za-z0-9_-]{20,}",
    },
    Detector {
        name: "openrouter-key",
        description: "OpenRouter API key",
        pattern: r"\bsk-or-v1-[A-Za-z0-9]{32,}",
    },
    Detector {
        name: "openai-key",
        description: "OpenAI API key (legacy, project, service account, admin); the part after \
                      `sk-` must mix upper case, lower case and digits",
        pattern: r"\bsk-[A-Za-z0-9_-]{20,}",
    },
    Detector {
        name: "stripe-key",
        description: "Stripe live secret or restricted key",
        pattern: r"\b[sr]k_live_[A-Za-z0-9]{20,}",
    },
    Detector {
        name: "aws-access-key-id",
        description: "AWS access key id, long-term or temporary",
        pattern: r"\b(AKIA|ASIA)[A-Z0-9]{16}\b",
    },
    Detector {
        name: "aws-secret-key",
        description: "AWS secret access key, when labelled",
        pattern: r"(?i)(aws_secret_access_key|secret_access_key|SecretAccessKey|aws_secret_key)\s*(=|:|:=|=>)\s*<value>",
    },
    Detector {
        name: "google-api-key",
        description: "Google API key",
        pattern: r"\bAIza[A-Za-z0-9_-]{35}\b",
    },
    Detector {
        name: "github-token",
        description: "GitHub personal, OAuth, user-to-server, server-to-server and refresh \
                      tokens, and fine-grained personal access tokens",
        pattern: r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    },
    Detector {
        name: "gitlab-token",
        description: "GitLab personal access token",
        pattern: r"\bglpat-[A-Za-z0-9_-]{20,}",
    },
    Detector {
        name: "slack-token",
        description: "Slack bot, user, app-level, refresh and legacy tokens",
        pattern: r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    },
    Detector {
        name: "jwt",
        description: "JSON Web Token (three base64url segments, the first a JSON header)",
        pattern: r"\beyJ[A-Za-z0-9_-]{7,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    },
    Detector {
        name: "bearer-token",
        description: "The credential after `Bearer` (as in an `Authorization` header); the word \
                      `Bearer` is kept",
        pattern: r"(?i)\bbearer[ \t]+[A-Za-z0-9._~+/=-]{16,}",
    },
    Detector {
        name: "connection-password",
        description: "The password in a URL or connection string; scheme, user and host are kept",
        pattern: r"[A-Za-z][A-Za-z0-9+.-]+://[^:@/\s]*:[^@/\s]+@",
    },
    Detector {
        name: "password",
        description: "A value assigned to a password-like name (`password`, `db_passwd`, \
                      `PASSPHRASE`, `pass`, `pwd`), in code, config, env files, YAML or JSON",
        pattern: r"(?i)[\w.-]*(password|passwd|passphrase|\bpass|\bpwd)['\x22]?\s*(=|:|:=|=>)\s*<value>",
    },
    Detector {
        name: "secret",
        description: "A value assigned to a secret-like name (`secret`, `client_secret`, \
                      `SECRET_KEY`, `private_key`)",
        pattern: r"(?i)[\w.-]*(secret|secret_?key|private_?key)['\x22]?\s*(=|:|:=|=>)\s*<value>",
    },
    Detector {
        name: "api-key",
        description: "A value assigned to an API-key-like name (`api_key`, `apiKey`, \
                      `x-api-key`, `access_key`)",
        pattern: r"(?i)[\w.-]*(api[_-]?key|access[_-]?key)['\x22]?\s*(=|:|:=|=>)\s*<value>",
    },
    Detector {
        name: "token",
        description: "A value assigned to a token-like name (`token`, `access_token`, \
                      `GITHUB_TOKEN`, `auth_token`)",
        pattern: r"(?i)[\w.-]*token['\x22]?\s*(=|:|:=|=>)\s*<value>",
    },
];

/// Masks every secret in `text`. Borrowed (no allocation) when there is none.
///
/// Safe on text that embeds JSON, such as a raw SSE body: no masked span crosses an unescaped
/// `"`, so every JSON string stays a string. A secret split across two SSE frames is masked
/// from its start to the end of its frame only.
pub fn mask(text: &str) -> Cow<'_, str> {
    let mut edits = Vec::new();
    scan(text.as_bytes(), 0, &mut edits);
    if edits.is_empty() {
        return Cow::Borrowed(text);
    }
    for edit in &mut edits {
        keep_escapes_whole(text.as_bytes(), edit);
    }
    let bytes = apply(text.as_bytes(), &edits);
    // Every edit starts and ends next to an ASCII byte, so the result is UTF-8.
    match String::from_utf8(bytes) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Masks secrets inside the string values of a raw JSON body, leaving every other byte as it
/// was. Besides the text detectors, a string value whose key is credential-like
/// (`"password": "…"`) is masked whole. Borrowed (no allocation) when there is nothing to mask.
///
/// Outside string literals nothing is touched, so this is for JSON; use [`mask`] for text.
pub fn mask_json_bytes(body: &[u8]) -> Cow<'_, [u8]> {
    let mut edits = Vec::new();
    // The kind of the last key seen and where its value may start (just after its colon).
    let mut pending: Option<(&'static str, usize)> = None;
    let mut pos = 0;
    while let Some(q) = memchr(b'"', body.get(pos..).unwrap_or_default()) {
        let start = pos + q + 1;
        let end = string_end(body, start);
        let content = body.get(start..end).unwrap_or_default();
        let before = edits.len();
        scan(content, start, &mut edits);
        if let Some((kind, value_from)) = pending.take() {
            let adjacent = body
                .get(value_from..start - 1)
                .is_some_and(|gap| gap.iter().all(u8::is_ascii_whitespace));
            if adjacent && edits.len() == before && looks_secret_quoted(content) {
                edits.push(Edit { start, end, kind });
            }
        }
        pos = end + 1;
        let after = skip_ws(body, pos);
        if at(body, after) == b':' {
            pending = key_kind(content).map(|kind| (kind, after + 1));
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(body);
    }
    for edit in &mut edits {
        keep_escapes_whole(body, edit);
    }
    Cow::Owned(apply(body, &edits))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Edit {
    start: usize,
    end: usize,
    kind: &'static str,
}

/// Bytes at which some detector can match: the first byte of each token prefix, the PEM dash,
/// `B`/`b` for Bearer, and the assignment separators.
const TRIGGERS: [bool; 256] = {
    let mut table = [false; 256];
    let bytes = b"-srAgxeBb:=";
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
};

/// Longest key name read back from a separator; longer identifier runs are data, not names.
const MAX_KEY: usize = 64;
/// How far a quoted value may run before it is not taken as one.
const MAX_QUOTED: usize = 4096;
/// How far past a PEM header its END marker is looked for.
const MAX_PEM: usize = 16 * 1024;

fn scan(s: &[u8], base: usize, edits: &mut Vec<Edit>) {
    let mut i = 0;
    while let Some(off) =
        s.get(i..).and_then(|rest| rest.iter().position(|&b| TRIGGERS[b as usize]))
    {
        i += off;
        if !plausible(s, i) {
            i += 1;
            continue;
        }
        match match_at(s, i) {
            Some(f) => {
                edits.push(Edit { start: base + f.start, end: base + f.end, kind: f.kind });
                i = f.end.max(i + 1);
            }
            None => i += 1,
        }
    }
}

/// A second cheap look before trying the matchers: the byte after a letter trigger must be
/// the second byte of one of its prefixes (`sk`, `AK`, `gh`, `ey`, ...).
fn plausible(s: &[u8], i: usize) -> bool {
    let next = at(s, i + 1);
    match at(s, i) {
        b's' | b'r' => next == b'k',
        b'A' => matches!(next, b'K' | b'S' | b'I'),
        b'g' => matches!(next, b'h' | b'i' | b'l'),
        b'x' => next == b'o',
        b'e' => next == b'y',
        b'B' | b'b' => matches!(next, b'e' | b'E'),
        b'-' => next == b'-',
        _ => true,
    }
}

struct Found {
    start: usize,
    end: usize,
    kind: &'static str,
}

fn found(start: usize, end: usize, kind: &'static str) -> Option<Found> {
    Some(Found { start, end, kind })
}

fn match_at(s: &[u8], i: usize) -> Option<Found> {
    match at(s, i) {
        b'-' => private_key(s, i),
        b':' => connection_password(s, i).or_else(|| assignment(s, i)),
        b'=' => assignment(s, i),
        b'B' | b'b' => bearer(s, i).or_else(|| token_at(s, i)),
        _ => token_at(s, i),
    }
}

// ---- byte helpers -------------------------------------------------------------------------

fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

fn rest(s: &[u8], i: usize) -> &[u8] {
    s.get(i..).unwrap_or_default()
}

fn run_end(s: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> usize {
    from + rest(s, from).iter().take_while(|&&b| pred(b)).count()
}

fn skip_ws(s: &[u8], from: usize) -> usize {
    run_end(s, from, |b| b.is_ascii_whitespace())
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Whether the byte at `i` follows an odd run of backslashes, i.e. belongs to an escape.
fn escaped(s: &[u8], i: usize) -> bool {
    let before = s.get(..i).unwrap_or_default();
    before.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// Whether a token may start at `i`: not glued to a preceding word (`task-…`), but allowed
/// right after an escape such as the `\n` in `…\nsk-ant-…`. Prefixes that base64 can contain
/// (`AKIA`, `eyJ`) are also not taken after `+` or `/`, so image data does not match.
fn starts_word(s: &[u8], i: usize, in_base64: bool) -> bool {
    if i == 0 || escaped(s, i) {
        return i == 0;
    }
    let p = at(s, i - 1);
    let glued = p.is_ascii_alphanumeric()
        || matches!(p, b'_' | b'-')
        || (in_base64 && matches!(p, b'+' | b'/'));
    !glued || (p.is_ascii_alphabetic() && escaped(s, i - 1))
}

fn has_digit(v: &[u8]) -> bool {
    v.iter().any(u8::is_ascii_digit)
}

fn looks_random(v: &[u8]) -> bool {
    has_digit(v) && v.iter().any(u8::is_ascii_uppercase) && v.iter().any(u8::is_ascii_lowercase)
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

// ---- token detectors ----------------------------------------------------------------------

/// A prefix, then a run of `pred` bytes at least `min` long; `random` asks for mixed case and
/// digits in the run.
fn prefixed(
    s: &[u8],
    i: usize,
    prefix: usize,
    min: usize,
    pred: fn(u8) -> bool,
    random: bool,
    kind: &'static str,
) -> Option<Found> {
    let from = i + prefix;
    let end = run_end(s, from, pred);
    let body = s.get(from..end)?;
    (body.len() >= min && (!random || looks_random(body))).then_some(Found { start: i, end, kind })
}

/// A prefix and a run of exactly `len` bytes, not followed by another word byte.
fn fixed(
    s: &[u8],
    i: usize,
    prefix: usize,
    len: usize,
    pred: fn(u8) -> bool,
    kind: &'static str,
) -> Option<Found> {
    let from = i + prefix;
    let end = run_end(s, from, pred);
    (end - from == len && !is_token_byte(at(s, end))).then_some(Found { start: i, end, kind })
}

fn token_at(s: &[u8], i: usize) -> Option<Found> {
    if !starts_word(s, i, matches!(at(s, i), b'A' | b'e')) {
        return None;
    }
    let r = rest(s, i);
    match at(s, i) {
        b's' if r.starts_with(b"sk-ant-") => {
            prefixed(s, i, 7, 20, is_token_byte, false, "anthropic-key")
        }
        b's' if r.starts_with(b"sk-or-v1-") => {
            prefixed(s, i, 9, 32, alnum, false, "openrouter-key")
        }
        b's' if r.starts_with(b"sk_live_") => prefixed(s, i, 8, 20, alnum, false, "stripe-key"),
        b's' if r.starts_with(b"sk-") => prefixed(s, i, 3, 20, is_token_byte, true, "openai-key"),
        b'r' if r.starts_with(b"rk_live_") => prefixed(s, i, 8, 20, alnum, false, "stripe-key"),
        b'A' if r.starts_with(b"AKIA") || r.starts_with(b"ASIA") => fixed(
            s,
            i,
            4,
            16,
            |b| b.is_ascii_uppercase() || b.is_ascii_digit(),
            "aws-access-key-id",
        ),
        b'A' if r.starts_with(b"AIza") => fixed(s, i, 4, 35, is_token_byte, "google-api-key"),
        b'g' if r.starts_with(b"github_pat_") => prefixed(
            s,
            i,
            11,
            22,
            |b| b.is_ascii_alphanumeric() || b == b'_',
            false,
            "github-token",
        ),
        b'g' if r.len() > 3
            && r[0] == b'g'
            && r[1] == b'h'
            && b"pousr".contains(&r[2])
            && r[3] == b'_' =>
        {
            prefixed(s, i, 4, 36, alnum, false, "github-token")
        }
        b'g' if r.starts_with(b"glpat-") => {
            prefixed(s, i, 6, 20, is_token_byte, false, "gitlab-token")
        }
        b'x' if r.len() > 4
            && r.starts_with(b"xox")
            && b"abprs".contains(&r[3])
            && r[4] == b'-' =>
        {
            let f = prefixed(
                s,
                i,
                5,
                10,
                |b| b.is_ascii_alphanumeric() || b == b'-',
                false,
                "slack-token",
            )?;
            has_digit(s.get(f.start..f.end)?).then_some(f)
        }
        b'e' if r.starts_with(b"eyJ") => jwt(s, i),
        _ => None,
    }
}

fn jwt(s: &[u8], i: usize) -> Option<Found> {
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let e1 = run_end(s, i, b64);
    if e1 - i < 10 || at(s, e1) != b'.' {
        return None;
    }
    let e2 = run_end(s, e1 + 1, b64);
    if e2 - (e1 + 1) < 10 || at(s, e2) != b'.' {
        return None;
    }
    let e3 = run_end(s, e2 + 1, b64);
    (e3 - (e2 + 1) >= 10).then_some(Found { start: i, end: e3, kind: "jwt" })
}

fn bearer(s: &[u8], i: usize) -> Option<Found> {
    if !rest(s, i).get(..6)?.eq_ignore_ascii_case(b"bearer") || !starts_word(s, i, false) {
        return None;
    }
    let from = run_end(s, i + 6, |b| b == b' ' || b == b'\t');
    if from == i + 6 || from - i > 10 {
        return None;
    }
    if let Some(f) = token_at(s, from) {
        return Some(f);
    }
    let mut end = run_end(s, from, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
    });
    while end > from && at(s, end - 1) == b'.' {
        end -= 1;
    }
    let token = s.get(from..end)?;
    let letters = token.iter().any(u8::is_ascii_alphabetic);
    (token.len() >= 16 && letters && has_digit(token)).then_some(Found {
        start: from,
        end,
        kind: "bearer-token",
    })
}

fn private_key(s: &[u8], i: usize) -> Option<Found> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    if !rest(s, i).starts_with(BEGIN) {
        return None;
    }
    let body = pem_label_end(s, i + BEGIN.len())?;
    let window = s.get(body..(body + MAX_PEM).min(s.len()))?;
    // An END past an unescaped quote belongs to text beyond this string (the next SSE frame
    // of a split key): this key is cut off here.
    let end = match memmem::find(window, END).filter(|&off| !has_bare_quote(s, body, body + off)) {
        // An END of another kind (a certificate) stops the key before it.
        Some(off) => pem_label_end(s, body + off + END.len()).unwrap_or(body + off),
        None => truncated_pem_end(s, body),
    };
    found(i, end, "private-key")
}

/// Whether `s[from..to]` holds a `"` that is not backslash-escaped.
fn has_bare_quote(s: &[u8], from: usize, to: usize) -> bool {
    let span = s.get(from..to).unwrap_or_default();
    memchr::memchr_iter(b'"', span).any(|q| !escaped(s, from + q))
}

/// After `-----BEGIN ` or `-----END `: the index past the closing dashes when the label names a
/// private key.
fn pem_label_end(s: &[u8], from: usize) -> Option<usize> {
    let end = run_end(s, from, |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
    let label = s.get(from..end)?;
    let private = label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK");
    (label.len() <= 48 && private && rest(s, end).starts_with(b"-----")).then_some(end + 5)
}

/// A key cut off before its END marker: its base64 body runs to the first byte that cannot be
/// in one, or a blank line, real or JSON-escaped.
fn truncated_pem_end(s: &[u8], from: usize) -> usize {
    let mut j = from;
    let limit = (from + MAX_PEM).min(s.len());
    while j < limit {
        let r = rest(s, j);
        if r.starts_with(b"\n\n") || r.starts_with(b"\r\n\r\n") || r.starts_with(b"\\n\\n") {
            break;
        }
        let b = at(s, j);
        let body = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'+' | b'/' | b'=' | b'\r' | b'\n' | b'\t' | b' ' | b'\\' | b':' | b',' | b'-'
            );
        if !body {
            break;
        }
        j += 1;
    }
    j
}

// ---- connection strings and assignments ---------------------------------------------------

fn connection_password(s: &[u8], i: usize) -> Option<Found> {
    if !rest(s, i).starts_with(b"://") {
        return None;
    }
    let scheme_len = s
        .get(..i)?
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
        .count();
    if !(2..=32).contains(&scheme_len) || !at(s, i - scheme_len).is_ascii_alphabetic() {
        return None;
    }
    let userinfo = |b: u8| {
        !b.is_ascii_whitespace()
            && !matches!(b, b'@' | b'/' | b'"' | b'\'' | b'\\' | b'?' | b'#' | b'[' | b']')
    };
    let user_end = run_end(s, i + 3, |b| b != b':' && userinfo(b));
    if user_end - (i + 3) > 128 || at(s, user_end) != b':' {
        return None;
    }
    // The host follows the last `@` of the authority, as URL parsers read it: a password may
    // hold an unencoded `@`.
    let authority_end = run_end(s, user_end + 1, |b| b == b'@' || userinfo(b));
    let authority = s.get(user_end + 1..authority_end)?;
    let pass_end = user_end + 1 + memchr::memrchr(b'@', authority)?;
    let pass = s.get(user_end + 1..pass_end)?;
    if pass.is_empty() || pass.len() > 256 || placeholder(pass) {
        return None;
    }
    // Words used as placeholders in docs (`user:password@host`) are not secrets.
    let word = [&b"password"[..], b"pass", b"passwd", b"pwd", b"secret", b"pw"];
    if word.iter().any(|w| pass.eq_ignore_ascii_case(w)) {
        return None;
    }
    found(user_end + 1, pass_end, "connection-password")
}

/// Values that stand for a secret rather than being one.
fn placeholder(v: &[u8]) -> bool {
    matches!(v.first(), Some(b'$' | b'<' | b'{' | b'%' | b'*' | b'['))
        || [
            &b"${"[..],
            b"{{",
            b"xxxx",
            b"****",
            b"....",
            b"your",
            b"example",
            b"changeme",
            b"placeholder",
            b"redacted",
            b"replace",
        ]
        .iter()
        .any(|p| contains_ci(v, p))
}

/// `name = value`, `name: value`, `"name": "value"`, `name := value`, `name => value`, anchored
/// at the `=` or `:`.
fn assignment(s: &[u8], i: usize) -> Option<Found> {
    let sep = at(s, i);
    let prev = if i > 0 { at(s, i - 1) } else { 0 };
    let next = at(s, i + 1);
    let value_from = match sep {
        b':' if next == b':' || prev == b':' || next == b'/' => return None,
        b':' if next == b'=' => i + 2,
        b'=' if next == b'='
            || matches!(
                prev,
                b'=' | b'!'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'+'
                    | b'-'
                    | b'*'
                    | b'/'
                    | b'%'
                    | b'&'
                    | b'|'
                    | b'^'
                    | b'~'
            ) =>
        {
            return None;
        }
        b'=' if next == b'>' => i + 2,
        _ => i + 1,
    };
    let kind = key_before(s, i)?;
    let v = run_end(s, value_from, |b| b == b' ' || b == b'\t');
    if v - value_from > 8 {
        return None;
    }
    if let Some(f) = token_at(s, v) {
        return Some(f);
    }
    match quote_len(s, v) {
        Some(q) => {
            let inner = v + q;
            if let Some(f) = token_at(s, inner) {
                return Some(f);
            }
            let close = closing_quote(s, inner, q)?;
            let value = s.get(inner..close)?;
            looks_secret_quoted(value).then_some(Found { start: inner, end: close, kind })
        }
        None => {
            let end = run_end(s, v, |b| {
                !b.is_ascii_whitespace()
                    && !matches!(
                        b,
                        b'"' | b'\''
                            | b'\\'
                            | b','
                            | b';'
                            | b'&'
                            | b')'
                            | b']'
                            | b'}'
                            | b'<'
                            | b'>'
                            | b'`'
                            | b'('
                            | b'['
                            | b'{'
                    )
            });
            if matches!(at(s, end), b'(' | b'[' | b'{') {
                return None; // a call or an index: code, not a literal
            }
            let value = s.get(v..end)?;
            looks_secret_unquoted(value).then_some(Found { start: v, end, kind })
        }
    }
}

/// The credential kind named by the identifier ending just before the separator at `sep`
/// (skipping spaces and a closing quote).
fn key_before(s: &[u8], sep: usize) -> Option<&'static str> {
    let mut k = sep - s.get(..sep)?.iter().rev().take_while(|&&b| b == b' ' || b == b'\t').count();
    if k > 0 && at(s, k - 1) == b'\'' {
        k -= 1;
    } else if k > 0 && at(s, k - 1) == b'"' {
        k -= 1;
        k -= s.get(..k)?.iter().rev().take_while(|&&b| b == b'\\').count();
    }
    let ident = |b: &&u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let len = s.get(..k)?.iter().rev().take_while(ident).count();
    if len == 0 || len > MAX_KEY {
        return None;
    }
    key_kind(s.get(k - len..k)?)
}

/// The kind a key name stands for, from its ending, ignoring case and `_`, `-`, `.`.
fn key_kind(key: &[u8]) -> Option<&'static str> {
    if key.len() > MAX_KEY {
        return None;
    }
    let mut buf = [0u8; MAX_KEY];
    let mut n = 0;
    for &b in key {
        if b.is_ascii_alphanumeric() {
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        } else if !matches!(b, b'_' | b'-' | b'.') {
            return None;
        }
    }
    let norm = &buf[..n];
    const SUFFIXES: &[(&[u8], &str)] = &[
        (b"secretaccesskey", "aws-secret-key"),
        (b"awssecretkey", "aws-secret-key"),
        (b"password", "password"),
        (b"passwd", "password"),
        (b"passphrase", "password"),
        (b"secretkey", "secret"),
        (b"privatekey", "secret"),
        (b"secret", "secret"),
        (b"apikey", "api-key"),
        (b"accesskey", "api-key"),
        (b"token", "token"),
    ];
    if let Some((_, kind)) = SUFFIXES.iter().find(|(suffix, _)| norm.ends_with(suffix)) {
        return Some(kind);
    }
    // `pass` and `pwd` only as whole words (`DB_PASS`, `pwd`), not inside `bypass`.
    let lower_ends = |w: &[u8]| {
        key.len() >= w.len()
            && key.get(key.len() - w.len()..).is_some_and(|t| t.eq_ignore_ascii_case(w))
    };
    let word = |w: &[u8]| {
        lower_ends(w)
            && (key.len() == w.len()
                || matches!(at(key, key.len() - w.len() - 1), b'_' | b'-' | b'.'))
    };
    (word(b"pass") || word(b"pwd")).then_some("password")
}

/// At `v`: the length of an opening quote: `'`, `"`, or a backslash-escaped `"` (`\"`,
/// `\\\"`) as inside a JSON string.
fn quote_len(s: &[u8], v: usize) -> Option<usize> {
    match at(s, v) {
        b'\'' | b'"' => Some(1),
        b'\\' => {
            let n = run_end(s, v, |b| b == b'\\') - v;
            (at(s, v + n) == b'"').then_some(n + 1)
        }
        _ => None,
    }
}

/// The start of the quote closing a value opened by a quote `q` bytes long, on the same line.
fn closing_quote(s: &[u8], inner: usize, q: usize) -> Option<usize> {
    let quote = at(s, inner - 1);
    let slashes = q - 1;
    let window = s.get(inner..(inner + MAX_QUOTED).min(s.len()))?;
    let mut from = 0;
    while let Some(off) = memchr2(quote, b'\n', window.get(from..)?) {
        let j = from + off;
        if window.get(j) == Some(&b'\n') {
            return None;
        }
        let run = window.get(..j)?.iter().rev().take_while(|&&b| b == b'\\').count();
        if run == slashes {
            return Some(inner + j - slashes);
        }
        from = j + 1;
    }
    None
}

/// How often letters and digits alternate (`a1b2` has 3): random strings alternate often,
/// names in code (`FTS5_MAX_SIZE`, `_bindgen_ty_5`, `X509Options`) seldom.
fn alternations(v: &[u8]) -> usize {
    let flip = |w: &[u8]| match w {
        [a, b] => {
            (a.is_ascii_alphabetic() && b.is_ascii_digit())
                || (a.is_ascii_digit() && b.is_ascii_alphabetic())
        }
        _ => false,
    };
    v.windows(2).filter(|w| flip(w)).count()
}

/// A quoted literal: 8 or more characters with a digit or a symbol, on one line, not a
/// placeholder, not a constant name (`"caching_sha2_password"`, `"CLIENT_SECRET_0"`).
fn looks_secret_quoted(v: &[u8]) -> bool {
    if v.len() < 8 || v.len() > 1024 || placeholder(v) {
        return false;
    }
    // Whitespace, a line break or a quote inside means the quotes paired up across text.
    let crossing = |b: &u8| b.is_ascii_whitespace() || *b == b'"';
    if v.iter().any(crossing) || memmem::find(v, b"\\n").is_some() {
        return false;
    }
    let name_like = v.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    let separated = v.iter().any(|b| matches!(b, b'_' | b'-' | b'.'));
    let symbol = v.iter().any(|b| b"!@#%^&*+=?~:/|;,<>()[]{}".contains(b));
    if name_like && separated && alternations(v) < 2 {
        return false;
    }
    has_digit(v) || symbol
}

/// An unquoted literal (env files, YAML, query strings): 12 or more characters in which letters
/// and digits alternate at least three times, and that is not a path in code.
fn looks_secret_unquoted(v: &[u8]) -> bool {
    if v.len() < 12 || v.len() > 512 || placeholder(v) || v.starts_with(b"0x") {
        return false;
    }
    if alternations(v) < 3 || memmem::find(v, b"::").is_some() {
        return false;
    }
    // `settings.SECRET_KEY_V2`, `config.api_key2`: a dotted path of identifiers is code.
    let identifier = |seg: &[u8]| {
        seg.first().is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            && seg.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    !(v.contains(&b'.') && v.split(|&b| b == b'.').all(identifier))
}

// ---- JSON ---------------------------------------------------------------------------------

/// The index of the quote closing the JSON string whose content starts at `from` (or the end).
fn string_end(s: &[u8], from: usize) -> usize {
    let mut j = from;
    while let Some(off) = memchr2(b'"', b'\\', rest(s, j)) {
        j += off;
        if at(s, j) == b'"' {
            return j;
        }
        j += 2;
    }
    s.len()
}

/// Widens an edit so it never starts or ends inside an escape sequence (`\n`, `\"`, `\u00e9`),
/// which would leave broken JSON.
fn keep_escapes_whole(s: &[u8], edit: &mut Edit) {
    if let Some((start, _)) = escape_around(s, edit.start) {
        edit.start = start;
    }
    if let Some((_, end)) = escape_around(s, edit.end) {
        edit.end = end;
    }
}

/// The escape sequence that `pos` falls strictly inside, as a range.
fn escape_around(s: &[u8], pos: usize) -> Option<(usize, usize)> {
    (pos.saturating_sub(5)..pos).find_map(|j| {
        let is_escape = at(s, j) == b'\\' && !escaped(s, j);
        let len = match at(s, j + 1) {
            b'u' => 2 + rest(s, j + 2).iter().take(4).take_while(|b| b.is_ascii_hexdigit()).count(),
            b if b.is_ascii() => 2,
            // Not an escape of JSON's; never split the UTF-8 character after it.
            _ => 1,
        };
        (is_escape && pos < j + len).then_some((j, (j + len).min(s.len())))
    })
}

fn apply(s: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut edits = edits.to_vec();
    edits.sort_by_key(|e| e.start);
    let mut out = Vec::with_capacity(s.len());
    let mut pos = 0;
    for e in edits {
        if e.start < pos || e.end > s.len() || e.start >= e.end {
            continue; // overlaps one already applied
        }
        out.extend_from_slice(s.get(pos..e.start).unwrap_or_default());
        out.extend_from_slice(b"[REDACTED:");
        out.extend_from_slice(e.kind.as_bytes());
        out.push(b']');
        pos = e.end;
    }
    out.extend_from_slice(s.get(pos..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One positive example per detector: input, expected output.
    const POSITIVE: &[(&str, &str, &str)] = &[
        (
            "private-key",
            "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7b9k\n-----END RSA PRIVATE KEY-----\nok",
            "key:\n[REDACTED:private-key]\nok",
        ),
        (
            "anthropic-key",
            "export ANTHROPIC_API_KEY=sk-ant-api03-R2D2c3p0BB8xWingYodaLuke_Leia-Han42",
            "export ANTHROPIC_API_KEY=[REDACTED:anthropic-key]",
        ),
        (
            "openrouter-key",
            "key sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.",
            "key [REDACTED:openrouter-key].",
        ),
        (
            "openai-key",
            "client = OpenAI(api_key='sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z')",
            "client = OpenAI(api_key='[REDACTED:openai-key]')",
        ),
        ("stripe-key", "STRIPE=rk_live_51H8xYzAbCdEfGhIjKlMnOpQr", "STRIPE=[REDACTED:stripe-key]"),
        (
            "aws-access-key-id",
            "id AKIAIOSFODNN7EXAMPLE here",
            "id [REDACTED:aws-access-key-id] here",
        ),
        (
            "aws-secret-key",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Hk3LmQp",
            "aws_secret_access_key = [REDACTED:aws-secret-key]",
        ),
        (
            "google-api-key",
            "maps?key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY&x=1",
            "maps?key=[REDACTED:google-api-key]&x=1",
        ),
        (
            "github-token",
            "git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r",
            "git clone https://[REDACTED:github-token]@github.com/o/r",
        ),
        (
            "gitlab-token",
            "PRIVATE-TOKEN glpat-xK3mN9pQ2rS5tU8vW1yZ",
            "PRIVATE-TOKEN [REDACTED:gitlab-token]",
        ),
        (
            "slack-token",
            "SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "SLACK=[REDACTED:slack-token]",
        ),
        (
            "jwt",
            "cookie: session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U;",
            "cookie: session=[REDACTED:jwt];",
        ),
        (
            "bearer-token",
            "curl -H 'Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543' https://x",
            "curl -H 'Authorization: Bearer [REDACTED:bearer-token]' https://x",
        ),
        (
            "connection-password",
            "DATABASE_URL=postgres://app:s3cr3t-P4ss@db.internal:5432/app",
            "DATABASE_URL=postgres://app:[REDACTED:connection-password]@db.internal:5432/app",
        ),
        ("password", "db_password = \"hunter2hunter2\"", "db_password = \"[REDACTED:password]\""),
        ("secret", "CLIENT_SECRET: Zq84mN2kLp0xR7vT5wY3", "CLIENT_SECRET: [REDACTED:secret]"),
        ("api-key", "{'apiKey': 'c29tZS1rZXktMTIz'}", "{'apiKey': '[REDACTED:api-key]'}"),
        ("token", "GITHUB_TOKEN := \"a1b2c3d4e5f6\"", "GITHUB_TOKEN := \"[REDACTED:token]\""),
    ];

    #[test]
    fn every_detector_has_a_working_example() {
        let names: Vec<_> = DETECTORS.iter().map(|d| d.name).collect();
        let examples: Vec<_> = POSITIVE.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(names, examples, "one example per detector, in table order");
        for (name, input, expected) in POSITIVE {
            assert_eq!(mask(input), *expected, "{name}");
        }
    }

    #[test]
    fn ordinary_code_is_left_alone() {
        let samples = [
            "password = os.environ[\"DB_PASSWORD\"]",
            "password = get_password()",
            "self.password = password",
            "const token = tokenizer.next();",
            "api_key: str = settings.OPENAI_API_KEY",
            "apiKey: ApiKeyConfig",
            "if password == confirm_password:",
            "token != expected_token2",
            "token += next_token_str1",
            "let secret = Secret::new(value);",
            "\"max_tokens\": 4096, \"input_tokens\": 1200",
            "task-scheduler-service and risk-assessment-framework-v2",
            "sk-learn is not a key; nor is desk-sk-foo",
            "postgres://user:password@localhost:5432/db and redis://:${REDIS_PASS}@cache",
            "http://localhost:8080/path@foo and ssh://git@github.com/org/repo",
            "password: \"Password\"",
            "\"token\": \"Token\", \"secret\": \"my-secret-name\"",
            "token = \"<your-token-here>\"",
            "API_KEY=xxxxxxxxxxxxxxxxxxxx",
            "PASSWORD=${DB_PASSWORD}",
            "secret: {{ .Values.secret }}",
            "bypass = 123456789abcdef",
            "Bearer tokens are described in RFC 6750",
            "Authorization: Bearer $TOKEN",
            "AKIAIOSFODNN7EXAMPL (too short) and xAKIAIOSFODNN7EXAMPLE",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "eyJhbGciOiJIUzI1NiJ9 alone",
            "token: 0x1234567890abcdef",
            "passwordHash = hash(password)",
            "password := os.Getenv(\"PASSWORD\")",
            "pub const DEVCONF_STABLE_SECRET: _bindgen_ty_3 = 3;",
            "pub frag_token: crate::__u32,",
            "if nToken > FTS5_MAX_TOKEN_SIZE { nToken = FTS5_MAX_TOKEN_SIZE; }",
            "pub const InheritPrivateKey: X509RequestInheritOptions = 3i32;",
            "CachingSha2Password => \"caching_sha2_password\",",
            "ClientTrafficSecret => \"CLIENT_TRAFFIC_SECRET_0\",",
            "let raw_private_key: X25519PrivateKey<'_> = key;",
        ];
        for s in samples {
            assert!(matches!(mask(s), Cow::Borrowed(_)), "masked: {s} -> {}", mask(s));
        }
    }

    #[test]
    fn specific_kinds_win_inside_assignments_and_bearer() {
        assert_eq!(
            mask("OPENAI_API_KEY=\"sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6h\""),
            "OPENAI_API_KEY=\"[REDACTED:openai-key]\""
        );
        assert_eq!(
            mask("Authorization: Bearer sk-ant-oat01-AbCdEfGhIjKlMnOpQrStUvWx0123"),
            "Authorization: Bearer [REDACTED:anthropic-key]"
        );
        assert_eq!(
            mask("x-api-key: sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx"),
            "x-api-key: [REDACTED:anthropic-key]"
        );
    }

    #[test]
    fn assignments_in_many_syntaxes() {
        let cases = [
            ("password: hunter2hunter2", "password: [REDACTED:password]"),
            ("DB_PASS=Tr0ub4dor3x!z&y=1", "DB_PASS=[REDACTED:password]&y=1"),
            ("--token=ab12cd34ef56gh78", "--token=[REDACTED:token]"),
            ("$token = 'ab12cd34ef56gh78';", "$token = '[REDACTED:token]';"),
            ("'secret' => 'Zq84mN2kLp0xR7vT'", "'secret' => '[REDACTED:secret]'"),
            ("?access_token=ya29a0AfH6SMBx3k&y", "?access_token=[REDACTED:token]&y"),
            ("\"password\":\"P@ssw0rd!\"", "\"password\":\"[REDACTED:password]\""),
            (
                "SecretAccessKey: \"wJalrXUtnFEMI/K7MDENG\"",
                "SecretAccessKey: \"[REDACTED:aws-secret-key]\"",
            ),
            ("pwd = 'abcdefg1'", "pwd = '[REDACTED:password]'"),
        ];
        for (input, expected) in cases {
            assert_eq!(mask(input), expected, "{input}");
        }
    }

    #[test]
    fn url_passwords() {
        let cases = [
            (
                "postgres://u:s3cr@t@db:5432/x",
                "postgres://u:[REDACTED:connection-password]@db:5432/x",
            ),
            (
                "https://x-access-token:T0k3n@github.com/o/r.git",
                "https://x-access-token:[REDACTED:connection-password]@github.com/o/r.git",
            ),
            (
                "redis://:Hunter2x@cache:6379 and amqp://guest:guest@mq/",
                "redis://:[REDACTED:connection-password]@cache:6379 and amqp://guest:[REDACTED:connection-password]@mq/",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(mask(input), expected, "{input}");
        }
    }

    #[test]
    fn private_key_without_end_is_masked_to_the_end_of_its_body() {
        let text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACB\n\nThat was cut.";
        assert_eq!(mask(text), "[REDACTED:private-key]\n\nThat was cut.");
    }

    #[test]
    fn sse_text_keeps_every_frame_valid_json() {
        let key =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7b9k\n-----END RSA PRIVATE KEY-----";
        let (a, b) = key.split_at(40);
        let frame = |t: &str| {
            let data = serde_json::json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": t } });
            format!("event: content_block_delta\ndata: {data}\n\n")
        };
        let sse = format!("{}{}{}", frame(a), frame(b), frame("password='ab12\",\"cd34'"));
        let masked = mask(&sse);
        assert!(masked.contains("[REDACTED:private-key]"));
        for line in masked.lines().filter_map(|l| l.strip_prefix("data: ")) {
            assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "{line}");
        }
    }

    fn json_mask(v: &serde_json::Value) -> (Vec<u8>, serde_json::Value) {
        let body = serde_json::to_vec(v).unwrap();
        let out = mask_json_bytes(&body).into_owned();
        let parsed = serde_json::from_slice(&out).expect("still JSON");
        (out, parsed)
    }

    #[test]
    fn json_private_key_with_escaped_newlines() {
        let key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oDXm\n-----END EC PRIVATE KEY-----\n";
        let (raw, v) = json_mask(
            &serde_json::json!({ "type": "tool_result", "content": format!("cat key.pem\n{key}done") }),
        );
        assert_eq!(v["content"], "cat key.pem\n[REDACTED:private-key]\ndone");
        assert!(raw.starts_with(br#"{"content":"cat key.pem\n[REDACTED:private-key]\ndone""#));
    }

    #[test]
    fn json_values_of_credential_keys_are_masked_whole() {
        let (_, v) = json_mask(&serde_json::json!({
            "input": { "password": "hunter2hunter2", "user": "admin", "token": { "type": "string" } },
            "headers": { "x-api-key": "c29tZS1rZXktMTIz", "max_tokens": "4096" },
        }));
        assert_eq!(v["input"]["password"], "[REDACTED:password]");
        assert_eq!(v["input"]["user"], "admin");
        assert_eq!(v["input"]["token"]["type"], "string");
        assert_eq!(v["headers"]["x-api-key"], "[REDACTED:api-key]");
        assert_eq!(v["headers"]["max_tokens"], "4096");
    }

    #[test]
    fn json_nested_escaped_json_is_masked_without_breaking_escapes() {
        // A tool result holding a JSON file holding JSON: quotes are \" and \\\".
        let inner = serde_json::json!({ "db": { "password": "hunter2hunter2" }, "nested": serde_json::json!({ "api_key": "Zq84mN2kLp0xR7vT" }).to_string() });
        let (_, v) = json_mask(&serde_json::json!({ "content": inner.to_string() }));
        let content: serde_json::Value =
            serde_json::from_str(v["content"].as_str().unwrap()).unwrap();
        assert_eq!(content["db"]["password"], "[REDACTED:password]");
        let nested: serde_json::Value =
            serde_json::from_str(content["nested"].as_str().unwrap()).unwrap();
        assert_eq!(nested["api_key"], "[REDACTED:api-key]");
    }

    #[test]
    fn json_bytes_outside_masks_are_identical() {
        let body = br#"{ "a" : "text AKIAIOSFODNN7EXAMPLE \u00e9\n" ,"n":1.50e3, "b":"\tghp_16C7e42F292c6912E7710c838347Ae178B4a"}"#;
        let out = mask_json_bytes(body);
        assert_eq!(
            &*out,
            br#"{ "a" : "text [REDACTED:aws-access-key-id] \u00e9\n" ,"n":1.50e3, "b":"\t[REDACTED:github-token]"}"#
        );
        let clean =
            br#"{"model":"claude","messages":[{"role":"user","content":"hi \"there\" \\n"}]}"#;
        assert!(matches!(mask_json_bytes(clean), Cow::Borrowed(_)));
    }

    #[test]
    fn widening_never_splits_a_utf8_character() {
        let s = "ab\\é\\u00e9".as_bytes();
        let mut e = Edit { start: 1, end: 3, kind: "x" };
        keep_escapes_whole(s, &mut e);
        assert_eq!((e.start, e.end), (1, 3));
        let mut e = Edit { start: 1, end: 7, kind: "x" };
        keep_escapes_whole(s, &mut e);
        assert_eq!(e.end, 11);
    }

    #[test]
    fn escapes_at_edit_edges_are_kept_whole() {
        let s = br#"ab\u00e9cd\"ef"#;
        let mut e = Edit { start: 4, end: 11, kind: "x" };
        keep_escapes_whole(s, &mut e);
        assert_eq!((e.start, e.end), (2, 12));
    }

    /// A Claude-Code-shaped request: long system prompt, tool schemas, file contents in tool
    /// results, code in many languages, a base64 screenshot.
    fn claude_code_body(extra: &str) -> Vec<u8> {
        let code = r#"import os
def connect():
    password = os.environ["DB_PASSWORD"]
    token = tokenizer.next_token()
    api_key: str = settings.OPENAI_API_KEY
    if password == confirm_password:
        return Client(url="postgres://user:password@localhost:5432/app", timeout=30)
// TypeScript
export interface Config { apiKey: string; token?: Token; secret: SecretRef }
const tokens = text.split(/\s+/).filter((t) => t.length > 0); // max_tokens = 4096
fn main() { let secret = Secret::new(value); let x: u64 = 0x1234_5678; }
.task-scheduler-header { grid-template-columns: repeat(2, 1fr); } /* risk-sk-header */
commit 3f2a9c1b7e4d5f6a8b9c0d1e2f3a4b5c6d7e8f90 Author: dev <dev@example.com>
id: 550e8400-e29b-41d4-a716-446655440000 url: https://github.com/org/repo/pull/12#issuecomment-1
"#;
        let mut text = String::new();
        while text.len() < 120_000 {
            text.push_str(code);
        }
        let image: String = (0..60_000)
            .map(|i| {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [(i * 7 + i / 3) % 64] as char
            })
            .collect();
        let body = serde_json::json!({
            "model": "claude-sonnet-4-5-20250929",
            "max_tokens": 32000,
            "metadata": { "user_id": "user_8d2c_account__session_4b1f6f3e-2d6a-4c57-9b0e-7f4d5c3b2a10" },
            "system": [{ "type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.\nWorking directory: /home/dev/app\nNever print secrets, API keys or tokens." }],
            "tools": [{ "name": "Bash", "description": "Run a command. Do not echo tokens.", "input_schema": { "type": "object", "properties": { "command": { "type": "string" }, "timeout": { "type": "number" } } } }],
            "messages": [
                { "role": "user", "content": [{ "type": "text", "text": "<system-reminder>CLAUDE.md</system-reminder>" }, { "type": "text", "text": "fix the login bug" }] },
                { "role": "assistant", "content": [{ "type": "tool_use", "id": "toolu_01", "name": "Read", "input": { "file_path": "/home/dev/app/db.py" } }] },
                { "role": "user", "content": [
                    { "type": "tool_result", "tool_use_id": "toolu_01", "content": text },
                    { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": image } },
                    { "type": "text", "text": extra },
                ] },
            ],
        });
        serde_json::to_vec(&body).unwrap()
    }

    #[test]
    fn large_claude_code_body_without_secrets_is_borrowed() {
        let body = claude_code_body("thanks");
        assert!(body.len() > 180_000);
        assert!(matches!(mask_json_bytes(&body), Cow::Borrowed(_)));
        let text = String::from_utf8(body).unwrap();
        assert!(matches!(mask(&text), Cow::Borrowed(_)));
    }

    #[test]
    fn large_claude_code_body_with_secrets() {
        let secrets = "use sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx0123 and\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\nand DATABASE_URL=\"mysql://root:Sup3rS3cret@db:3306/app\" and AKIAIOSFODNN7EXAMPLE";
        let body = claude_code_body(secrets);
        let out = mask_json_bytes(&body);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["messages"][2]["content"][2]["text"],
            "use [REDACTED:anthropic-key] and\n[REDACTED:private-key]\nand DATABASE_URL=\"mysql://root:[REDACTED:connection-password]@db:3306/app\" and [REDACTED:aws-access-key-id]"
        );
        // Everything else is untouched.
        let original: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["messages"][2]["content"][0], original["messages"][2]["content"][0]);
        assert_eq!(v["messages"][2]["content"][1], original["messages"][2]["content"][1]);
        assert_eq!(v["system"], original["system"]);
    }

    const PIECES: &[&str] = &[
        "sk-ant-api03-",
        "AbCd1234EfGh5678IjKl",
        "\n",
        "\"",
        "\\",
        "'",
        " ",
        "=",
        ": ",
        "password",
        "token",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----END RSA PRIVATE KEY-----",
        "MIIEow",
        "\\u00e9",
        "postgres://",
        "u:",
        "p4ss@",
        "h",
        "Bearer ",
        "eyJhbGciOi",
        ".",
        "AKIA",
        "ABCDEFGHIJKLMNOP",
        "ghp_",
        "xoxb-",
        "é",
        "\u{1F600}",
        "{",
        "}",
        "\t",
    ];

    fn pieces() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(PIECES), 0..40).prop_map(|v| v.concat())
    }

    /// Pieces apart: a token glued to the text before it is not matched, but may be once that
    /// text is a `[REDACTED:…]`, so idempotence holds for separated pieces only.
    fn spaced() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(PIECES), 0..40).prop_map(|v| v.join(" "))
    }

    proptest! {
        #[test]
        fn masked_json_stays_json(key in pieces(), value in pieces(), nested in pieces()) {
            let doc = serde_json::json!({ key.clone(): value, "n": [nested.clone(), serde_json::json!({ key: nested }).to_string()] });
            let body = serde_json::to_vec(&doc).unwrap();
            let out = mask_json_bytes(&body);
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok(), "{}", String::from_utf8_lossy(&out));
        }

        #[test]
        fn masking_json_twice_changes_nothing_more(key in spaced(), value in spaced(), nested in spaced()) {
            let doc = serde_json::json!({ key.clone(): value, "n": [serde_json::json!({ key: nested }).to_string()] });
            let body = serde_json::to_vec(&doc).unwrap();
            let once = mask_json_bytes(&body).into_owned();
            prop_assert_eq!(mask_json_bytes(&once).into_owned(), once);
        }

        #[test]
        fn mask_is_idempotent_and_total(text in spaced(), noise in "\\PC{0,80}") {
            let text = format!("{text} {noise}");
            let once = mask(&text).into_owned();
            prop_assert_eq!(mask(&once).into_owned(), once);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = mask_json_bytes(&bytes);
            let _ = mask(&String::from_utf8_lossy(&bytes));
        }
    }
}
