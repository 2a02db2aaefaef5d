//! Task category and complexity from request [`Features`]. Pure and explainable: every point of
//! the score comes with the signal that gave it.
//!
//! **Category.** The prompt is lowercased and searched for the keywords of each category
//! ([`KEYWORDS`]; a keyword must start a word, so `fix` does not match `prefix`). Each hit adds
//! its weight to its category; the highest total wins, ties going to the earlier category in the
//! table. Without any hit, a short prompt (under 200 characters, no code block) is `simple_qa`,
//! anything else `other`. Background, title and probe calls are `simple_qa` whatever they say.
//!
//! **Complexity** (0 to 100, clamped) is the category's base plus structural points; each
//! signal only ever adds, so more context, more tools or a deeper loop never lowers the score:
//!
//! | signal                          | points                                    |
//! |---------------------------------|-------------------------------------------|
//! | base: simple_qa / other / explain / code_gen / code_review, refactor, debug | 5 / 15 / 20 / 25 / 30 |
//! | token estimate                  | >2k +5, >10k +10, >30k +18, >60k +25      |
//! | turns (messages or items)       | >10 +5, >40 +10                           |
//! | tool loop depth                 | >=3 +5, >=8 +10, >=20 +15                 |
//! | fenced code blocks              | +3 each, at most +9                       |
//! | files mentioned                 | +3 each, at most +12                      |
//! | thinking asked for              | +10                                       |
//! | images                          | +5                                        |
//! | system prompt                   | >4 KB +3                                  |
//! | tools                           | any +3, >=20 +5                           |
//! | prompt length                   | >1,000 characters +5                      |
//! | background / title call         | 5, nothing else counts                    |
//! | probe                           | 0, nothing else counts                    |

use serde::Serialize;

use crate::features::{Features, Shape};

/// What the request asks for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    SimpleQa,
    CodeGen,
    CodeReview,
    Debug,
    Refactor,
    Explain,
    Other,
}

impl Category {
    pub const ALL: [Self; 7] = [
        Self::SimpleQa,
        Self::CodeGen,
        Self::CodeReview,
        Self::Debug,
        Self::Refactor,
        Self::Explain,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SimpleQa => "simple_qa",
            Self::CodeGen => "code_gen",
            Self::CodeReview => "code_review",
            Self::Debug => "debug",
            Self::Refactor => "refactor",
            Self::Explain => "explain",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The classifier's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub category: Category,
    /// 0 (trivial) to 100 (the hardest).
    pub complexity: u8,
    /// Why: each signal that moved the category or the score, as `name(+points)` or `name`.
    pub signals: Vec<String>,
}

/// Keyword table: `(keyword, category, weight)`. Matched case-insensitively at a word start.
pub const KEYWORDS: &[(&str, Category, u32)] = &[
    // Debug.
    ("stack trace", Category::Debug, 3),
    ("stacktrace", Category::Debug, 3),
    ("traceback", Category::Debug, 3),
    ("panicked", Category::Debug, 3),
    ("segfault", Category::Debug, 3),
    ("debug", Category::Debug, 3),
    ("crash", Category::Debug, 2),
    ("fails", Category::Debug, 2),
    ("failing", Category::Debug, 2),
    ("failed", Category::Debug, 2),
    ("exception", Category::Debug, 2),
    ("broken", Category::Debug, 2),
    ("not working", Category::Debug, 2),
    ("doesn't work", Category::Debug, 2),
    ("error", Category::Debug, 1),
    ("bug", Category::Debug, 1),
    ("fix", Category::Debug, 1),
    // Code review.
    ("code review", Category::CodeReview, 3),
    ("review", Category::CodeReview, 3),
    ("critique", Category::CodeReview, 2),
    ("diff", Category::CodeReview, 2),
    ("pull request", Category::CodeReview, 2),
    ("look over", Category::CodeReview, 1),
    ("audit", Category::CodeReview, 1),
    // Refactor.
    ("refactor", Category::Refactor, 3),
    ("restructure", Category::Refactor, 2),
    ("reorganize", Category::Refactor, 2),
    ("clean up", Category::Refactor, 2),
    ("cleanup", Category::Refactor, 2),
    ("simplify", Category::Refactor, 2),
    ("deduplicate", Category::Refactor, 2),
    ("decouple", Category::Refactor, 2),
    ("rename", Category::Refactor, 2),
    ("extract", Category::Refactor, 1),
    // Explain.
    ("explain", Category::Explain, 3),
    ("walk me through", Category::Explain, 3),
    ("help me understand", Category::Explain, 3),
    ("how does", Category::Explain, 2),
    ("what does", Category::Explain, 2),
    ("how it works", Category::Explain, 2),
    ("why is", Category::Explain, 1),
    // Code generation.
    ("implement", Category::CodeGen, 3),
    ("write a", Category::CodeGen, 2),
    ("write an", Category::CodeGen, 2),
    ("create a", Category::CodeGen, 2),
    ("generate", Category::CodeGen, 2),
    ("build a", Category::CodeGen, 2),
    ("function that", Category::CodeGen, 2),
    ("class that", Category::CodeGen, 2),
    ("script", Category::CodeGen, 1),
    ("add a", Category::CodeGen, 1),
    // Simple questions.
    ("what is", Category::SimpleQa, 2),
    ("what's", Category::SimpleQa, 2),
    ("who is", Category::SimpleQa, 2),
    ("when did", Category::SimpleQa, 2),
    ("how many", Category::SimpleQa, 2),
    ("capital of", Category::SimpleQa, 2),
    ("define", Category::SimpleQa, 1),
];

/// Points every category starts from.
fn base(category: Category) -> u32 {
    match category {
        Category::SimpleQa => 5,
        Category::Other => 15,
        Category::Explain => 20,
        Category::CodeGen => 25,
        Category::CodeReview | Category::Refactor | Category::Debug => 30,
    }
}

/// Whether `needle` occurs in `hay` at a word start.
fn has_word(hay: &str, needle: &str) -> bool {
    memchr::memmem::find_iter(hay.as_bytes(), needle.as_bytes())
        .any(|at| at == 0 || !hay.as_bytes().get(at - 1).is_some_and(|c| c.is_ascii_alphanumeric()))
}

/// Classifies a request.
pub fn classify(features: &Features) -> Classification {
    let f = features;
    let mut signals = Vec::new();
    match f.shape {
        Shape::Probe => {
            signals.push("shape:probe".to_owned());
            return Classification { category: Category::SimpleQa, complexity: 0, signals };
        }
        Shape::Title | Shape::Background => {
            let name = if f.shape == Shape::Title { "title" } else { "background" };
            signals.push(format!("shape:{name}(+5)"));
            return Classification { category: Category::SimpleQa, complexity: 5, signals };
        }
        Shape::Turn => {}
    }

    // Category.
    let prompt = f.prompt.to_lowercase();
    let mut totals = [0u32; Category::ALL.len()];
    for &(word, category, weight) in KEYWORDS {
        if has_word(&prompt, word) {
            totals[category as usize] += weight;
            signals.push(format!("keyword:{word} -> {}", category.as_str()));
        }
    }
    let mut category = Category::Other;
    let mut best = 0;
    // Ties go to the category whose keywords come first in the table.
    for &(_, c, _) in KEYWORDS {
        if totals[c as usize] > best {
            best = totals[c as usize];
            category = c;
        }
    }
    if best == 0 {
        category = if f.prompt.chars().count() < 200 && f.code_blocks == 0 && !f.prompt.is_empty() {
            signals.push("short prompt -> simple_qa".to_owned());
            Category::SimpleQa
        } else {
            Category::Other
        };
    }

    // Complexity.
    let mut score = base(category);
    signals.push(format!("base:{}(+{score})", category.as_str()));
    let mut add = |name: String, points: u32| {
        if points > 0 {
            score += points;
            signals.push(format!("{name}(+{points})"));
        }
    };
    let tier = |value: u32, tiers: &[(u32, &'static str, u32)]| {
        tiers.iter().rev().find(|(min, _, _)| value > *min).map(|&(_, name, p)| (name, p))
    };
    if let Some((name, p)) = tier(
        f.token_estimate,
        &[
            (2_000, "tokens>2k", 5),
            (10_000, "tokens>10k", 10),
            (30_000, "tokens>30k", 18),
            (60_000, "tokens>60k", 25),
        ],
    ) {
        add(name.to_owned(), p);
    }
    if let Some((name, p)) = tier(f.turns, &[(10, "turns>10", 5), (40, "turns>40", 10)]) {
        add(name.to_owned(), p);
    }
    if let Some((name, p)) = tier(
        f.tool_loop_depth,
        &[(2, "tool_loop>=3", 5), (7, "tool_loop>=8", 10), (19, "tool_loop>=20", 15)],
    ) {
        add(name.to_owned(), p);
    }
    add(format!("code_blocks={}", f.code_blocks), (3 * f.code_blocks).min(9));
    add(format!("files={}", f.files_mentioned), (3 * f.files_mentioned).min(12));
    if f.thinking {
        add("thinking".to_owned(), 10);
    }
    if f.images {
        add("images".to_owned(), 5);
    }
    if f.system_bytes > 4096 {
        add("system>4KB".to_owned(), 3);
    }
    if f.tools >= 20 {
        add("tools>=20".to_owned(), 5);
    } else if f.tools > 0 {
        add("tools".to_owned(), 3);
    }
    if f.prompt.chars().count() > 1000 {
        add("prompt>1000 chars".to_owned(), 5);
    }
    Classification { category, complexity: score.min(100) as u8, signals }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(prompt: &str) -> Features {
        Features { prompt: prompt.to_owned(), ..Features::default() }
    }

    #[test]
    fn pinned_categories() {
        let c = classify(&turn("What is 2+2?"));
        assert_eq!(c.category, Category::SimpleQa);
        assert!(c.complexity < 20, "{c:?}");
        let cases = [
            ("Write a Python function that parses ISO dates", Category::CodeGen),
            ("Review this diff for bugs: ```\n-a\n+b\n```", Category::CodeReview),
            ("Refactor this module to use traits", Category::Refactor),
            ("Explain how this code works", Category::Explain),
        ];
        for (prompt, want) in cases {
            assert_eq!(classify(&turn(prompt)).category, want, "{prompt}");
        }
        let long = "Tell me about your day in detail, with lots of context. ".repeat(5);
        assert_eq!(classify(&turn(&long)).category, Category::Other);
    }

    #[test]
    fn a_long_debugging_loop_is_hard() {
        let f = Features {
            prompt:
                "The test fails with this stack trace: thread panicked at src/a.rs:10:5, called \
                     from src/b.rs and src/c.rs, why?"
                    .to_owned(),
            token_estimate: 150_000 / 4,
            turns: 22,
            tool_loop_depth: 10,
            thinking: true,
            tools: 12,
            files_mentioned: 3,
            ..Features::default()
        };
        let c = classify(&f);
        assert_eq!(c.category, Category::Debug);
        assert!(c.complexity >= 75, "{c:?}");
        assert!(c.signals.iter().any(|s| s == "keyword:stack trace -> debug"), "{c:?}");
        assert!(c.signals.iter().any(|s| s == "tokens>30k(+18)"), "{c:?}");
    }

    #[test]
    fn side_calls_are_trivial_and_scores_monotonic() {
        for shape in [Shape::Probe, Shape::Title, Shape::Background] {
            let f =
                Features { shape, thinking: true, token_estimate: 90_000, ..turn("Debug this") };
            let c = classify(&f);
            assert_eq!(c.category, Category::SimpleQa);
            assert!(c.complexity <= 10);
        }
        let mut f = turn("Implement a parser");
        let mut last = classify(&f).complexity;
        for step in 0..8 {
            match step {
                0 => f.token_estimate = 5_000,
                1 => f.token_estimate = 70_000,
                2 => f.turns = 50,
                3 => f.tool_loop_depth = 25,
                4 => f.code_blocks = 5,
                5 => f.images = true,
                6 => f.tools = 30,
                _ => f.files_mentioned = 9,
            }
            let now = classify(&f).complexity;
            assert!(now >= last);
            last = now;
        }
        assert_eq!(last, 100);
        assert!(!has_word("prefix", "fix") && has_word("a fix", "fix"));
    }
}
