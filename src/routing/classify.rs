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

use schemars::JsonSchema;
use serde::Serialize;

use crate::routing::Task;

/// Prompts of at least this many estimated tokens go to `long_context`.
pub const LONG_CONTEXT_TOKENS: u64 = 32_000;
/// Prompts of at most this many estimated tokens may be chit-chat (`fast`).
pub const SHORT_TOKENS: u64 = 30;
/// The share of letters that must be CJK for the `chinese` task.
pub const CJK_RATIO: f64 = 0.2;
/// Within CJK text, the share of kana that marks it as Japanese.
const KANA_SHARE: f64 = 0.1;
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
    let (cjk_ratio, cjk_language) = cjk(user);
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
        return (Task::Vision, plural(s.images, "image reference"));
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
        parts.push(plural(s.code_lines, "line of code syntax"));
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

fn plural(n: u32, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else if let Some((head, tail)) = what.split_once(' ') {
        format!("{n} {head}s {tail}")
    } else {
        format!("{n} {what}s")
    }
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

// ---------------------------------------------------------------------------------------------
// Scripts

#[derive(Clone, Copy, PartialEq)]
enum Script {
    Han,
    Kana,
    Hangul,
}

fn script(c: char) -> Option<Script> {
    match c as u32 {
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0xF900..=0xFAFF => {
            Some(Script::Han)
        }
        0x3040..=0x309F | 0x30A0..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9D => Some(Script::Kana),
        0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F => Some(Script::Hangul),
        _ => None,
    }
}

/// The CJK share of the letters, and the language when it reaches [`CJK_RATIO`].
fn cjk(text: &str) -> (f64, Option<&'static str>) {
    let (mut letters, mut han, mut kana, mut hangul) = (0u32, 0u32, 0u32, 0u32);
    for c in text.chars() {
        match script(c) {
            Some(Script::Han) => han += 1,
            Some(Script::Kana) => kana += 1,
            Some(Script::Hangul) => hangul += 1,
            None if c.is_alphabetic() => letters += 1,
            None => {}
        }
    }
    let cjk = han + kana + hangul;
    if cjk == 0 {
        return (0.0, None);
    }
    let ratio = f64::from(cjk) / f64::from(cjk + letters);
    let language = if ratio < CJK_RATIO {
        None
    } else if hangul > han + kana {
        Some("ko")
    } else if f64::from(kana) >= KANA_SHARE * f64::from(han + kana) {
        Some("ja")
    } else {
        Some("zh")
    };
    (ratio, language)
}

// ---------------------------------------------------------------------------------------------
// Words and cue lists

/// Lower-case ASCII words (letters, digits, `+`, `#`, `.` inside a word as in c++, c#, node.js).
fn words(lower: &str) -> Vec<&str> {
    lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '.' | '_')))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .collect()
}

/// The cues of `list` present in the text: multi-word and single-word ASCII cues match whole
/// words in order; cues with non-ASCII characters match as substrings. Each cue once.
fn found(words: &[&str], lower: &str, list: &[&str]) -> Vec<String> {
    list.iter()
        .filter(|cue| {
            if !cue.is_ascii() {
                return lower.contains(*cue);
            }
            let parts: Vec<&str> = cue.split(' ').collect();
            words.windows(parts.len()).any(|w| w == parts.as_slice())
        })
        .map(|cue| (*cue).to_owned())
        .collect()
}

/// Programming terms, plus "in <language>" for a language named after "in", "using", "用"
/// (Chinese "with") or before "で" (Japanese "in"): asking for code in a language counts twice.
fn code_terms(words: &[&str], lower: &str) -> Vec<String> {
    let mut terms = found(words, lower, CODE_TERMS);
    for lang in LANGUAGES {
        let ascii = words
            .windows(2)
            .any(|w| matches!(w[0], "in" | "using") && w[1] == *lang);
        let cjk = lower.contains(&format!("用{lang}")) || lower.contains(&format!("{lang}で"));
        if ascii || cjk {
            terms.push(format!("in {lang}"));
        }
    }
    terms
}

/// Programming languages (also in [`CODE_TERMS`]).
const LANGUAGES: &[&str] = &[
    "rust",
    "python",
    "javascript",
    "typescript",
    "java",
    "kotlin",
    "swift",
    "golang",
    "c++",
    "c#",
    "ruby",
    "php",
    "sql",
    "bash",
    "haskell",
    "scala",
];

const CODE_TERMS: &[&str] = &[
    "rust",
    "python",
    "javascript",
    "typescript",
    "java",
    "kotlin",
    "swift",
    "golang",
    "c++",
    "c#",
    "ruby",
    "php",
    "sql",
    "bash",
    "haskell",
    "scala",
    "node.js",
    "react",
    "regex",
    "function",
    "functions",
    "method",
    "compile",
    "compiler",
    "compiles",
    "bug",
    "debug",
    "refactor",
    "stack trace",
    "traceback",
    "exception",
    "segfault",
    "api",
    "endpoint",
    "variable",
    "array",
    "recursion",
    "algorithm",
    "unit test",
    "unit tests",
    "script",
    "code",
    "query",
    "database",
    "repository",
    "git",
    "dockerfile",
    "library",
    "crate",
    "syntax",
    "runtime",
    "borrow checker",
    "pointer",
    "struct",
    "enum",
    "iterator",
    "closure",
    "mutex",
    "tuple",
    "hashmap",
    "linked list",
    "binary tree",
    "hash table",
    "json",
    "yaml",
    "html",
    "css",
    "typeerror",
    "nullpointerexception",
    "代码",
    "函数",
    "编程",
    "程序",
    "算法",
    "排序",
    "コード",
    "関数",
    "プログラム",
    "アルゴリズム",
];

const IMAGE_WORDS: &[&str] = &[
    "this image",
    "the image",
    "attached image",
    "this picture",
    "the picture",
    "this photo",
    "the photo",
    "screenshot",
    "this diagram",
    "the diagram",
    "this chart",
    "the chart",
    "图片",
    "图像",
    "照片",
    "截图",
    "这张图",
    "画像",
    "写真",
    "スクリーンショット",
];

const CREATIVE_WORDS: &[&str] = &[
    "poem",
    "poetry",
    "haiku",
    "sonnet",
    "limerick",
    "lyrics",
    "song",
    "story",
    "stories",
    "fairy tale",
    "novel",
    "screenplay",
    "fiction",
    "slogan",
    "tagline",
    "jingle",
    "verse",
    "诗",
    "小说",
    "故事",
    "歌词",
    "俳句",
    "物語",
    "小説",
    "歌詞",
];

const DEPTH_WORDS: &[&str] = &[
    "explain",
    "summarize",
    "summarise",
    "summary",
    "analyze",
    "analyse",
    "analysis",
    "compare",
    "describe",
    "essay",
    "detail",
    "detailed",
    "plan",
    "review",
    "outline",
    "draft",
    "report",
    "pros and cons",
];

const PROOF_WORDS: &[&str] = &[
    "prove",
    "proof",
    "theorem",
    "lemma",
    "corollary",
    "show that",
    "证明",
    "定理",
    "推导",
    "証明",
];

const REASONING_WORDS: &[&str] = &[
    "step by step",
    "solve",
    "calculate",
    "compute",
    "how many",
    "probability",
    "integral",
    "derivative",
    "derive",
    "induction",
    "equation",
    "minimize",
    "maximize",
    "puzzle",
    "riddle",
    "if and only if",
    "deduce",
    "logically",
    "求解",
    "计算",
    "概率",
    "方程",
    "解いて",
];

struct Reasoning {
    cues: Vec<String>,
    points: u32,
}

fn reasoning_cues(words: &[&str], lower: &str, text: &str) -> Reasoning {
    // `words` splits on '-', so "step-by-step" matches "step by step".
    let proof = found(words, lower, PROOF_WORDS);
    let mut other = found(words, lower, REASONING_WORDS);
    let mut points = 2 * proof.len() as u32 + other.len() as u32;
    let mut cues = proof;
    cues.append(&mut other);
    if math_notation(text) {
        cues.push("math notation".to_owned());
        points += 1;
    }
    Reasoning { cues, points }
}

/// Math notation: a math symbol (∫ ∑ √ ≤ …), or two of `+ * ^ =` between operands, as in
/// `2x + 3 = 7` or `a^2 + b^2` (URLs are left out: their `?a=1&b=2` is not math).
fn math_notation(text: &str) -> bool {
    const SYMBOLS: &[char] = &[
        '∫', '∑', '∏', '√', '≤', '≥', '≠', '∀', '∃', '∈', '⊂', '∞', 'π', '×', '÷', '±', '²', '³',
    ];
    if text.chars().any(|c| SYMBOLS.contains(&c)) {
        return true;
    }
    let chars: Vec<char> = text
        .split_whitespace()
        .filter(|t| !t.contains("://"))
        .flat_map(str::chars)
        .collect();
    let operand = |c: char| c.is_ascii_alphanumeric() || c == ')' || c == '(';
    let ops = chars
        .windows(3)
        .filter(|w| matches!(w[1], '+' | '*' | '^' | '=') && operand(w[0]) && operand(w[2]))
        .count();
    ops >= 2
}

// ---------------------------------------------------------------------------------------------
// Code

/// Whether the text holds a stack trace or compiler error from a common runtime.
fn stack_trace(text: &str) -> bool {
    const MARKERS: &[&str] = &[
        "Traceback (most recent call last)",
        "panicked at",
        "Exception in thread",
        "goroutine 1 [running]",
        "error[E",
        "Segmentation fault",
        "core dumped",
    ];
    if MARKERS.iter().any(|m| text.contains(m)) {
        return true;
    }
    let mut frames = 0;
    for line in text.lines() {
        let t = line.trim_start();
        // Python: `File "app.py", line 12, in main`
        if t.starts_with("File \"") && t.contains("\", line ") {
            return true;
        }
        // Java/JS/C#: `at com.x.Y.z(Y.java:10)`, `at main (/app/index.js:3:5)`
        if t.starts_with("at ") && t.contains(':') && t.ends_with(')') {
            frames += 1;
        }
    }
    frames >= 2
}

/// Counts lines, and inline `code` spans, that look like code.
fn code_lines(text: &str) -> u32 {
    let lines = text.lines().filter(|l| looks_like_code(l)).count();
    (lines + inline_code_spans(text)) as u32
}

/// Line starts that mark code when the line also has code punctuation.
const CODE_STARTS: &[&str] = &[
    "fn ",
    "pub ",
    "impl ",
    "let ",
    "const ",
    "var ",
    "def ",
    "class ",
    "package ",
    "func ",
    "public ",
    "private ",
    "static ",
    "return ",
    "if (",
    "for (",
    "while (",
    "} else",
    "use ",
    "struct ",
    "enum ",
    "async ",
    "function ",
    "console.",
    "print(",
    "println!",
    "#include",
    "#!/",
    "export ",
];

/// Upper-case SQL clause starts: code on their own.
const SQL_STARTS: &[&str] = &[
    "SELECT ",
    "FROM ",
    "WHERE ",
    "GROUP BY ",
    "ORDER BY ",
    "INSERT INTO ",
    "UPDATE ",
    "DELETE FROM ",
    "CREATE TABLE ",
    "ALTER TABLE ",
    "JOIN ",
    "LEFT JOIN ",
    "INNER JOIN ",
    "HAVING ",
    "VALUES ",
];

/// Punctuation pairs that prose rarely has and code often does.
const CODE_MARKS: &[&str] = &[
    "();", "::", "=> ", "!=", "==", "&&", "||", "+=", "</", "/>", "){",
];

fn looks_like_code(line: &str) -> bool {
    let t = line.trim();
    if t.len() < 3 {
        return false;
    }
    let punctuated = t.contains(['(', '=', '{', ':', ';', '<', '[']);
    let keyword = CODE_STARTS.iter().any(|s| t.starts_with(s)) && punctuated;
    let ends = t.ends_with(';') || t.ends_with('{') || t == "}" || t == "};" || t.ends_with("):");
    let marks = CODE_MARKS.iter().any(|m| t.contains(m));
    let sql = SQL_STARTS.iter().any(|s| t.starts_with(s));
    let shell = t
        .strip_prefix("$ ")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic()));
    let import = (t.starts_with("import ") || (t.starts_with("from ") && t.contains(" import ")))
        && !t.ends_with(['.', '?', '!']);
    keyword || ends || marks || sql || shell || import
}

/// Inline `code` spans on one line holding code punctuation, as in `os.path.join()`.
fn inline_code_spans(text: &str) -> usize {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            !span.is_empty()
                && !span.contains('\n')
                && span.contains(['(', '.', '_', ':', '=', '<', '[', ';'])
        })
        .count()
}

// ---------------------------------------------------------------------------------------------
// Images

const IMAGE_EXTENSIONS: &[&str] = &[".png", ".jpg", ".jpeg", ".gif", ".webp"];

/// The image references in a text, in order: http(s) URLs and file names ending in an image
/// extension, and `data:image/…` URIs.
pub fn image_refs(text: &str) -> Vec<&str> {
    text.split(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '(' | ')' | '[' | ']')
    })
    .map(|t| t.trim_end_matches([',', '.', ';', '!', '?']))
    .filter(|t| {
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("data:image/") {
            return true;
        }
        let path = lower.split(['?', '#']).next().unwrap_or_default();
        path.len() > 4 && IMAGE_EXTENSIONS.iter().any(|e| path.ends_with(e))
    })
    .collect()
}

/// The image references that can be attached to a request as they are: http(s) URLs and
/// `data:image/…;base64,` URIs (local files are for the `vision` tool, which checks them).
pub fn attachable_images(text: &str) -> Vec<String> {
    image_refs(text)
        .into_iter()
        .filter(|r| {
            let lower = r.to_ascii_lowercase();
            lower.starts_with("https://")
                || lower.starts_with("http://")
                || (lower.starts_with("data:image/") && lower.contains(";base64,"))
        })
        .map(str::to_owned)
        .collect()
}
