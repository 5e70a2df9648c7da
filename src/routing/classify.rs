//! Prompt classification for `route_by_task` with `task: "auto"`: which kind of work a prompt
//! is, judged from its text alone — no model is called, the same text always gets the same
//! answer, and the answer carries the [`Signals`] it was based on.
//!
//! The rules, first match wins (README "Routing" documents them for users):
//! 1. an image reference (an http(s) URL or file name ending in .png/.jpg/.jpeg/.gif/.webp, or a
//!    `data:image/` URI) → `vision`;
//! 2. at least [`LONG_CONTEXT_TOKENS`] estimated tokens → `long_context`;
//! 3. code evidence — a ``` fence, a stack trace, two lines of code syntax, or one such line or
//!    inline `code` plus a programming term, or two programming terms → `code`;
//! 4. words about an image ("this image", "screenshot", "图片", …) → `vision`;
//! 5. two points of reasoning cues (a proof word counts two; "step by step", "solve", math
//!    notation … one each) → `reasoning`;
//! 6. at least [`CJK_RATIO`] of the letters are CJK and the text is Chinese → `chinese`
//!    (Japanese — kana in the CJK text — and Korean fall through: the `chinese` chain is chosen
//!    for its Chinese training, and the later rules serve Japanese and Korean as well);
//! 7. a creative-writing word (poem, story, lyrics, 诗, 小説 …) → `creative`;
//! 8. at most [`SHORT_TOKENS`] estimated tokens and no request for depth (explain, summarize,
//!    analyze …) → `fast` (chit-chat and one-line questions);
//! 9. otherwise → `general`.
//!
//! Matching is on whole words (ASCII, case-insensitive) or on substrings for CJK cues.

mod detect;

use schemars::JsonSchema;
use serde::Serialize;

use crate::routing::Task;
use detect::{
    CREATIVE_WORDS, DEPTH_WORDS, IMAGE_WORDS, code_lines, code_terms, found, reasoning_cues,
    script, stack_trace, words,
};
pub use detect::{attachable_images, image_refs};

/// Prompts of at least this many estimated tokens go to `long_context`.
pub const LONG_CONTEXT_TOKENS: u64 = 32_000;
/// Prompts of at most this many estimated tokens may be chit-chat (`fast`).
pub const SHORT_TOKENS: u64 = 30;
/// The share of letters that must be CJK for the `chinese` task.
pub const CJK_RATIO: f64 = 0.2;
/// Tokens of chat-format overhead per message (OpenAI's accounting: 3, plus 3 for the reply).
const TOKENS_PER_MESSAGE: u64 = 3;

/// What the classifier saw. Every field is always present, so agents can rely on the shape.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Signals {
    /// Estimated prompt tokens: CJK characters count one each, other text one per 4 chars,
    /// plus 3 per message and 3 for the reply.
    pub approx_tokens: u64,
    pub code_fence: bool,
    pub stack_trace: bool,
    /// Lines (and inline `code` spans) that look like code: keywords with code punctuation,
    /// `;`/`{` line ends, SQL clauses, `::`/`==`/`&&`-style operators, shell `$ ` lines.
    pub code_lines: u32,
    /// Programming terms seen (language names, "function", "compile", …).
    pub code_terms: Vec<String>,
    /// Image references (URLs, file names, data: URIs).
    pub images: u32,
    /// Words about an image ("this image", "screenshot", …).
    pub image_words: Vec<String>,
    /// Reasoning cues seen ("prove", "step by step", "math notation", …).
    pub reasoning_cues: Vec<String>,
    /// Share of the letters that are CJK (Han, kana, Hangul), two decimals.
    pub cjk_ratio: f64,
    /// "zh", "ja" or "ko" when the text is mostly CJK; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cjk_language: Option<&'static str>,
    pub creative_words: Vec<String>,
    /// Requests for depth ("explain", "summarize", …) that keep a short prompt off `fast`.
    pub depth_words: Vec<String>,
}

/// A classified prompt: the task, what was seen, and the rule that decided, as a phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub task: Task,
    pub signals: Signals,
    /// Why, e.g. "a ``` code fence and 3 lines of code syntax".
    pub why: String,
}

/// The text a prompt is judged on: what the user wrote, and the size of everything sent.
#[derive(Debug, Clone, Copy)]
pub struct PromptText<'a> {
    /// The user's turns (the prompt, or every `user` message), joined.
    pub user: &'a str,
    /// Estimated tokens of the whole conversation (see [`conversation_tokens`]).
    pub approx_tokens: u64,
}

/// Estimated tokens of a text: one per CJK character, one per 4 other characters (rounded
/// up). A tokenizer-free estimate that is deterministic and close enough to route on.
pub fn approx_tokens(text: &str) -> u64 {
    let (mut cjk, mut other) = (0u64, 0u64);
    for c in text.chars() {
        if script(c).is_some() {
            cjk += 1;
        } else {
            other += 1;
        }
    }
    cjk + other.div_ceil(4)
}

/// Estimated prompt tokens of a conversation given as its message texts.
pub fn conversation_tokens<'a>(messages: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut total = TOKENS_PER_MESSAGE; // priming the reply
    for m in messages {
        total += TOKENS_PER_MESSAGE + approx_tokens(m);
    }
    total
}

/// Classifies a prompt. Deterministic: it reads only the text.
pub fn classify(text: PromptText<'_>) -> Classification {
    let user = text.user;
    let lower = user.to_lowercase();
    let words = words(&lower);
    let (cjk_ratio, cjk_language) = detect::cjk(user);
    let fence = user.contains("```");
    let stack = stack_trace(user);
    let lines = code_lines(user);
    let terms = code_terms(&words, &lower);
    let images = image_refs(user).len() as u32;
    let image_words = found(&words, &lower, IMAGE_WORDS);
    let reasoning = reasoning_cues(&words, &lower, user);
    let creative = found(&words, &lower, CREATIVE_WORDS);
    let depth = found(&words, &lower, DEPTH_WORDS);
    let signals = Signals {
        approx_tokens: text.approx_tokens,
        code_fence: fence,
        stack_trace: stack,
        code_lines: lines,
        code_terms: terms,
        images,
        image_words,
        reasoning_cues: reasoning.cues,
        cjk_ratio: (cjk_ratio * 100.0).round() / 100.0,
        cjk_language,
        creative_words: creative,
        depth_words: depth,
    };
    let (task, why) = rule(&signals, reasoning.points);
    Classification { task, signals, why }
}

/// Applies the rules of the module docs, in order.
fn rule(s: &Signals, reasoning_points: u32) -> (Task, String) {
    if s.images > 0 {
        return (
            Task::Vision,
            count(s.images, "image reference", "image references"),
        );
    }
    if s.approx_tokens >= LONG_CONTEXT_TOKENS {
        return (
            Task::LongContext,
            format!(
                "~{} tokens, at least the {LONG_CONTEXT_TOKENS}-token long-context threshold",
                s.approx_tokens
            ),
        );
    }
    if let Some(why) = code_evidence(s) {
        return (Task::Code, why);
    }
    if !s.image_words.is_empty() {
        return (
            Task::Vision,
            format!("words about an image ({})", list(&s.image_words)),
        );
    }
    if reasoning_points >= 2 {
        return (
            Task::Reasoning,
            format!("reasoning cues ({})", list(&s.reasoning_cues)),
        );
    }
    if s.cjk_language == Some("zh") {
        return (
            Task::Chinese,
            format!(
                "Chinese text ({:.0}% of the letters are CJK)",
                s.cjk_ratio * 100.0
            ),
        );
    }
    if !s.creative_words.is_empty() {
        return (
            Task::Creative,
            format!("creative writing ({})", list(&s.creative_words)),
        );
    }
    let lang = match s.cjk_language {
        Some("ja") => "Japanese text, ",
        Some("ko") => "Korean text, ",
        _ => "",
    };
    if s.approx_tokens <= SHORT_TOKENS && s.depth_words.is_empty() {
        return (
            Task::Fast,
            format!(
                "{lang}a short message (~{} tokens) asking for no depth",
                s.approx_tokens
            ),
        );
    }
    let why = if lang.is_empty() {
        "no specific signal".to_owned()
    } else {
        format!("{lang}no other specific signal")
    };
    (Task::General, why)
}

/// The code rule: a phrase naming the evidence, or `None`.
fn code_evidence(s: &Signals) -> Option<String> {
    let mut parts = Vec::new();
    if s.code_fence {
        parts.push("a ``` code fence".to_owned());
    }
    if s.stack_trace {
        parts.push("a stack trace".to_owned());
    }
    if s.code_lines > 0 {
        parts.push(count(
            s.code_lines,
            "line of code syntax",
            "lines of code syntax",
        ));
    }
    if !s.code_terms.is_empty() {
        parts.push(format!("programming terms ({})", list(&s.code_terms)));
    }
    let terms = s.code_terms.len() as u32;
    let enough = s.code_fence
        || s.stack_trace
        || s.code_lines >= 2
        || (s.code_lines >= 1 && terms >= 1)
        || terms >= 2;
    enough.then(|| parts.join(", "))
}

fn count(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

#[cfg(test)]
mod tests {
    use super::detect::math_notation;
    use super::*;

    fn run(text: &str) -> Classification {
        classify(PromptText {
            user: text,
            approx_tokens: conversation_tokens([text]),
        })
    }

    #[test]
    fn token_estimate_counts_cjk_per_character_and_other_text_per_four() {
        assert_eq!(approx_tokens(""), 0);
        assert_eq!(approx_tokens("abcd"), 1);
        assert_eq!(approx_tokens("abcde"), 2);
        assert_eq!(approx_tokens("你好"), 2);
        assert_eq!(approx_tokens("こんにちは"), 5);
        assert_eq!(approx_tokens("hi 你好"), 3);
        // One message "hi": 3 for the reply + 3 for the message + 1.
        assert_eq!(conversation_tokens(["hi"]), 7);
        assert_eq!(conversation_tokens(["a", "b"]), 11);
    }

    #[test]
    fn the_same_text_always_gets_the_same_answer() {
        let text = "Prove that there are infinitely many primes.";
        assert_eq!(run(text), run(text));
    }

    #[test]
    fn code_signals_are_reported() {
        let c = run("```rust\nfn main() {\n    println!(\"hi\");\n}\n```"); // stdout-ok: test input
        assert_eq!(c.task, Task::Code);
        assert!(c.signals.code_fence);
        assert!(!c.signals.stack_trace);
        // `fn main() {` and `println!("hi");` (a lone `}` is too short to judge).
        assert_eq!(c.signals.code_lines, 2, "{:?}", c.signals);
        assert!(c.why.starts_with("a ``` code fence"), "{}", c.why);

        let c = run("Exception in thread \"main\" java.lang.NullPointerException");
        assert_eq!(c.task, Task::Code);
        assert!(c.signals.stack_trace);

        // One programming term is not enough; asking for a language is.
        assert_eq!(
            run("Write a poem about rust on my old bike").task,
            Task::Creative
        );
        let c = run("Write a function that parses dates in Python");
        assert_eq!(c.task, Task::Code);
        assert_eq!(c.signals.code_terms, ["python", "function", "in python"]);
    }

    #[test]
    fn cjk_text_is_chinese_unless_it_has_kana_or_is_korean() {
        let c = run("请介绍一下长城的历史");
        assert_eq!(
            (c.task, c.signals.cjk_language),
            (Task::Chinese, Some("zh"))
        );
        assert_eq!(c.signals.cjk_ratio, 1.0);

        let c = run(
            "日本の歴史について詳しく説明してください。特に江戸時代の文化と経済の発展について知りたいです。",
        );
        assert_eq!(c.signals.cjk_language, Some("ja"));
        assert_eq!(c.task, Task::General, "{}", c.why);
        assert!(c.why.contains("Japanese"), "{}", c.why);

        assert_eq!(run("안녕하세요").signals.cjk_language, Some("ko"));

        // A few CJK characters in English text do not make it Chinese.
        let c = run("What does the idiom 塞翁失马 mean, and where does it come from?");
        assert_eq!(c.signals.cjk_language, None);
        assert!(c.signals.cjk_ratio > 0.0 && c.signals.cjk_ratio < CJK_RATIO);
        assert_ne!(c.task, Task::Chinese);
    }

    #[test]
    fn rules_apply_in_order() {
        // An image reference beats code.
        assert_eq!(
            run("Fix the bug in this function: https://x.io/shot.png").task,
            Task::Vision
        );
        // Code beats words about an image.
        assert_eq!(
            run("Write a Python function to crop this image to a square").task,
            Task::Code
        );
        // Code and reasoning beat Chinese.
        assert_eq!(run("用Python写一个快速排序").task, Task::Code);
        assert_eq!(run("证明：根号2是无理数").task, Task::Reasoning);
        // Chinese beats creative.
        assert_eq!(run("写一首关于秋天的诗").task, Task::Chinese);
        // Depth keeps a short message off fast.
        assert_eq!(run("Explain photosynthesis").task, Task::General);
        assert_eq!(run("hello there!").task, Task::Fast);
    }

    #[test]
    fn long_context_starts_at_the_threshold() {
        let words = |n: usize| "word ".repeat(n);
        // "word " is 5 chars; 4 chars a token; +6 for the message and reply.
        let just_below = words(((LONG_CONTEXT_TOKENS - 7) * 4 / 5) as usize);
        let tokens = conversation_tokens([just_below.as_str()]);
        assert!(tokens < LONG_CONTEXT_TOKENS, "{tokens}");
        assert_ne!(run(&just_below).task, Task::LongContext);
        let at = words((LONG_CONTEXT_TOKENS * 4 / 5) as usize);
        assert!(conversation_tokens([at.as_str()]) >= LONG_CONTEXT_TOKENS);
        let c = run(&at);
        assert_eq!(c.task, Task::LongContext);
        assert!(c.why.contains("32000"), "{}", c.why);
    }

    #[test]
    fn reasoning_needs_two_points() {
        assert_eq!(run("How many legs does a spider have?").task, Task::Fast);
        let c = run("Solve 3x + 5 = 20.");
        assert_eq!(c.task, Task::Reasoning);
        assert_eq!(c.signals.reasoning_cues, ["solve", "math notation"]);
        // Dates and URLs are not math notation.
        assert!(!math_notation("deadline 2024-01-15, review 2024-02-01"));
        assert!(!math_notation("see https://a.io/?x=1&y=2&z=3"));
        assert!(math_notation("a^2 + b^2 = c^2"));
        assert!(math_notation("∫ f(x) dx"));
    }

    #[test]
    fn image_references_are_found_and_only_urls_are_attachable() {
        let text = "Compare https://a.io/x.PNG?size=2, ./local/shot.jpg and \
                    data:image/png;base64,AAAA. Also https://a.io/page.html";
        assert_eq!(
            image_refs(text),
            [
                "https://a.io/x.PNG?size=2",
                "./local/shot.jpg",
                "data:image/png;base64,AAAA"
            ]
        );
        assert_eq!(
            attachable_images(text),
            ["https://a.io/x.PNG?size=2", "data:image/png;base64,AAAA"]
        );
        let c = run(text);
        assert_eq!((c.task, c.signals.images), (Task::Vision, 3));
    }
}
