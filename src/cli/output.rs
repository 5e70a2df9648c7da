//! How the command line shows things: results on stdout (a table or text for people, JSON
//! with `--json` for scripts), notes and the spinner on stderr.
//!
//! Everything written to stdout goes through [`stdout`], which writes and flushes once and
//! reports a closed pipe as an error the caller can ignore (`llm-router models | head` must not
//! panic the way `println!` does). The spinner appears only when stderr is a terminal and the
//! call has already taken a moment, so scripts and fast calls never see it.

use std::borrow::Cow;
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::pipeline::Answer;
use comfy_table::{CellAlignment, LineStyle, Table, TableStyle};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// How long a call runs before the spinner shows up.
const SPINNER_DELAY: Duration = Duration::from_millis(250);

/// Plain aligned columns with one rule under the header.
const STYLE: TableStyle =
    TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─'));

/// Writes `text` to stdout in one go and flushes.
pub fn stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `value` to stdout as pretty JSON followed by a newline.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    stdout(&text)?;
    Ok(())
}

/// A note for the person at the terminal (stderr, so it never mixes with results).
pub fn note(text: &str) {
    eprintln!("{text}");
}

/// A table with a header; the columns listed in `right` are right-aligned (numbers).
pub fn table(header: &[&str], rows: Vec<Vec<String>>, right: &[usize]) -> String {
    let mut t = Table::new();
    t.load_style(STYLE);
    t.set_header(header.to_vec());
    for row in rows {
        t.add_row(row);
    }
    for &i in right {
        if let Some(column) = t.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    // Padding leaves a leading and a trailing space on every line; keep the columns, drop
    // the trailing whitespace.
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Runs `fut`; if it is still running after a moment and stderr is a terminal, shows a
/// spinner with `message` and the elapsed time until it finishes.
pub async fn spin<F: Future>(message: impl Into<Cow<'static, str>>, fut: F) -> F::Output {
    if !std::io::stderr().is_terminal() {
        return fut.await;
    }
    let mut fut = std::pin::pin!(fut);
    tokio::select! {
        out = &mut fut => return out,
        () = tokio::time::sleep(SPINNER_DELAY) => {}
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    let out = fut.await;
    bar.finish_and_clear();
    out
}

/// A cost for a table cell: `$0.002520`, or `?` when unknown.
pub fn usd(cost: Option<f64>) -> String {
    cost.map_or_else(|| "?".to_owned(), |c| format!("${c:.6}"))
}

/// The first non-empty line of `text`, cut to `max` characters (with `…`).
pub fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The text of an answer as a person reads it: the content, then any tool calls.
pub fn answer_body(answer: &Answer) -> String {
    let mut text = answer.content.clone();
    for call in &answer.tool_calls {
        let f = call.get("function").unwrap_or(call);
        let name = f.get("name").and_then(|v| v.as_str()).unwrap_or("?");
        let args = f.get("arguments").and_then(|v| v.as_str()).unwrap_or("{}");
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("[tool call] {name}({args})"));
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The facts of an answer for stderr: model, tokens, cost and source, latency; and, when the
/// router retried or fell back, the path it took.
pub fn answer_facts(answer: &Answer) -> String {
    let mut s = format!("— {}", answer.facts());
    if answer.attempts.len() > 1 {
        let path: Vec<String> = answer
            .attempts
            .iter()
            .map(|a| match a.status {
                Some(status) => format!("{} {} ({status})", a.model, a.outcome),
                None => format!("{} {}", a.model, a.outcome),
            })
            .collect();
        s.push_str(&format!("\n  attempts: {}", path.join(" → ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_right_align_numbers() {
        let t = table(
            &["model", "cost"],
            vec![
                vec!["a".into(), "$1.5".into()],
                vec!["longer-name".into(), "$10.25".into()],
            ],
            &[1],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[1].trim().chars().all(|c| c == '─'), "{t}");
        // Right-aligned: the numbers end in the same column.
        assert_eq!(lines[2].len(), lines[3].len(), "{t}");
        assert!(
            lines[2].ends_with("$1.5") && lines[3].ends_with("$10.25"),
            "{t}"
        );
        // Left-aligned: the second column starts in the same place on every line.
        let start = |l: &str, needle: &str| l.find(needle).unwrap();
        assert_eq!(start(lines[0], "cost") + 4, lines[0].len(), "{t}");
    }

    #[test]
    fn first_lines_skip_blank_lines_and_are_cut() {
        assert_eq!(first_line("\n\n  hello\nworld", 80), "hello");
        assert_eq!(first_line("abcdefgh", 5), "abcd…");
        assert_eq!(first_line("", 5), "");
    }
}
