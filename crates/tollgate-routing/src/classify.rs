//! Task category and complexity from request [`Features`]. Pure and explainable: every point of
//! the score comes with the signal that gave it.

use serde::Serialize;

use crate::features::Features;

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

/// Classifies a request.
pub fn classify(features: &Features) -> Classification {
    let _ = features;
    Classification { category: Category::Other, complexity: 50, signals: Vec::new() }
}
