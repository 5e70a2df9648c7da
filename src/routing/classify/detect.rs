//! The detectors behind [`super::classify`]: scripts (Han, kana, Hangul), cue words, code
//! syntax, stack traces, math notation and image references. Each reads text and reports what
//! it found; the rules that turn findings into a task live in the parent module.

use super::CJK_RATIO;

/// Within CJK text, the share of kana that marks it as Japanese.
const KANA_SHARE: f64 = 0.1;

// ---------------------------------------------------------------------------------------------
// Scripts

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Script {
    Han,
    Kana,
    Hangul,
}

pub(super) fn script(c: char) -> Option<Script> {
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
pub(super) fn cjk(text: &str) -> (f64, Option<&'static str>) {
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
pub(super) fn words(lower: &str) -> Vec<&str> {
    lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '.' | '_')))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .collect()
}

/// The cues of `list` (separated by `|`) present in the text: multi-word and single-word ASCII cues match whole
/// words in order; cues with non-ASCII characters match as substrings. Each cue once.
pub(super) fn found(words: &[&str], lower: &str, list: &str) -> Vec<String> {
    list.split('|')
        .filter(|cue| {
            if !cue.is_ascii() {
                return lower.contains(cue);
            }
            let parts: Vec<&str> = cue.split(' ').collect();
            words.windows(parts.len()).any(|w| w == parts.as_slice())
        })
        .map(str::to_owned)
        .collect()
}

/// Programming terms, plus "in <language>" for a language named after "in", "using", "用"
/// (Chinese "with") or before "で" (Japanese "in"): asking for code in a language counts twice.
pub(super) fn code_terms(words: &[&str], lower: &str) -> Vec<String> {
    let mut terms = found(words, lower, CODE_TERMS);
    for lang in LANGUAGES.split('|') {
        let ascii = words
            .windows(2)
            .any(|w| matches!(w[0], "in" | "using") && w[1] == lang);
        let cjk = lower.contains(&format!("用{lang}")) || lower.contains(&format!("{lang}で"));
        if ascii || cjk {
            terms.push(format!("in {lang}"));
        }
    }
    terms
}

/// Programming languages (also in [`CODE_TERMS`]).
const LANGUAGES: &str = "\
    rust|python|javascript|typescript|java|kotlin|swift|golang|c++|c#|ruby|php|sql|bash|\
    haskell|scala";

const CODE_TERMS: &str = "\
    rust|python|javascript|typescript|java|kotlin|swift|golang|c++|c#|ruby|php|sql|bash|\
    haskell|scala|node.js|react|regex|function|functions|method|compile|compiler|compiles|\
    bug|debug|refactor|stack trace|traceback|exception|segfault|api|endpoint|variable|array|\
    recursion|algorithm|unit test|unit tests|script|code|query|database|repository|git|\
    dockerfile|library|crate|syntax|runtime|borrow checker|pointer|struct|enum|iterator|\
    closure|mutex|tuple|hashmap|linked list|binary tree|hash table|json|yaml|html|css|\
    typeerror|nullpointerexception|代码|函数|编程|程序|算法|排序|コード|関数|プログラム|アルゴリズム";

pub(super) const IMAGE_WORDS: &str = "\
    this image|the image|attached image|this picture|the picture|this photo|the photo|\
    screenshot|this diagram|the diagram|this chart|the chart|图片|图像|照片|截图|这张图|画像|写真|\
    スクリーンショット";

pub(super) const CREATIVE_WORDS: &str = "\
    poem|poetry|haiku|sonnet|limerick|lyrics|song|story|stories|fairy tale|novel|screenplay|\
    fiction|slogan|tagline|jingle|verse|诗|小说|故事|歌词|俳句|物語|小説|歌詞";

pub(super) const DEPTH_WORDS: &str = "\
    explain|summarize|summarise|summary|analyze|analyse|analysis|compare|describe|essay|\
    detail|detailed|plan|review|outline|draft|report|pros and cons";

const PROOF_WORDS: &str = "\
    prove|proof|theorem|lemma|corollary|show that|证明|定理|推导|証明";

const REASONING_WORDS: &str = "\
    step by step|solve|calculate|compute|how many|probability|integral|derivative|derive|\
    induction|equation|minimize|maximize|puzzle|riddle|if and only if|deduce|logically|求解|\
    计算|概率|方程|解いて";

pub(super) struct Reasoning {
    pub cues: Vec<String>,
    pub points: u32,
}

pub(super) fn reasoning_cues(words: &[&str], lower: &str, text: &str) -> Reasoning {
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
pub(super) fn math_notation(text: &str) -> bool {
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
pub(super) fn stack_trace(text: &str) -> bool {
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
pub(super) fn code_lines(text: &str) -> u32 {
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
    "println!", // stdout-ok: a keyword the classifier looks for, not a print
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
    let ends = t.ends_with(';') || t.ends_with('{') || t.ends_with("):");
    let marks = CODE_MARKS.iter().any(|m| t.contains(m));
    let sql = SQL_STARTS.iter().any(|s| t.starts_with(s));
    let shell = t
        .strip_prefix("$ ")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic()));
    let import = (t.starts_with("import ") || (t.starts_with("from ") && t.contains(" import ")))
        && !t.ends_with(['.', '?', '!']);
    keyword || ends || marks || sql || shell || import || call_line(t)
}

/// A line that is one call of a qualified or snake_case name, as `fmt.Println("hi")`,
/// `os.getcwd()` or `read_file(path);` (prose puts a space before its parentheses).
fn call_line(t: &str) -> bool {
    let t = t.strip_suffix(';').unwrap_or(t);
    let Some((name, _)) = t.split_once('(') else {
        return false;
    };
    t.ends_with(')')
        && name.contains(['.', '_'])
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
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
