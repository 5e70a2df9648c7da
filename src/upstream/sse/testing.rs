//! Test support shared by the stream-parser tests of every API style: a parse of a body fed
//! in given pieces, in a form tests can compare, and the check that every way the network
//! could split a body (each 2-way split, and byte by byte) gives the same answer.

use serde_json::Value;

use super::{Delta, StreamParser};

/// What a parse produced, in a comparable form.
#[derive(Debug, PartialEq)]
pub(crate) struct Parsed {
    /// The text deltas, concatenated.
    pub(crate) deltas: String,
    /// How many tool-call deltas were reported.
    pub(crate) tool_deltas: usize,
    /// The answer, or (why it failed, the partial text).
    pub(crate) result: Result<Summary, (String, String)>,
    /// How many skip notes the parser kept.
    pub(crate) skipped: usize,
}

/// The parts of an assembled answer the tests compare.
#[derive(Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) model: Option<String>,
    pub(crate) text: String,
    pub(crate) tool_calls: Vec<Value>,
    pub(crate) function_call: Option<Value>,
    pub(crate) finish_reason: Option<String>,
    /// (prompt, completion, total) tokens.
    pub(crate) usage: Option<(u64, u64, u64)>,
}

/// Feeds `parts` to `p` one after another, then ends the body. An error the stream sent
/// ends the parse there: the result is that error with the text so far.
pub(crate) fn parse(mut p: StreamParser, parts: &[&[u8]]) -> Parsed {
    let mut deltas = String::new();
    let mut tool_deltas = 0;
    let mut on = |d: Delta<'_>| match d {
        Delta::Text(t) => deltas.push_str(t),
        Delta::ToolCall => tool_deltas += 1,
    };
    let mut failed = None;
    for part in parts {
        if let Err(e) = p.feed(part, &mut on) {
            failed = Some((e, p.text().to_owned()));
            break;
        }
    }
    let result = match failed {
        Some(failed) => Err(failed),
        None => match p.finish(&mut on) {
            Ok(r) => {
                let choice = r.choices.into_iter().next().unwrap();
                let message = choice.message.unwrap();
                Ok(Summary {
                    model: r.model,
                    text: message.text(),
                    tool_calls: message.tool_calls.unwrap_or_default(),
                    function_call: message.function_call,
                    finish_reason: choice.finish_reason,
                    usage: r.usage.map(|u| {
                        let t = u.tokens();
                        (t.prompt_tokens, t.completion_tokens, t.total_tokens)
                    }),
                })
            }
            Err(why) => Err((why, p.text().to_owned())),
        },
    };
    let skipped = p.skipped().len();
    Parsed {
        deltas,
        tool_deltas,
        result,
        skipped,
    }
}

/// Asserts that `bytes`, fed to a parser from `new` whole, in every 2-way split and byte by
/// byte, always parses to `expected`.
pub(crate) fn assert_every_split_gives(
    new: impl Fn() -> StreamParser,
    bytes: &[u8],
    expected: &Parsed,
) {
    assert_eq!(&parse(new(), &[bytes]), expected, "whole");
    for i in 0..=bytes.len() {
        let got = parse(new(), &[&bytes[..i], &bytes[i..]]);
        assert_eq!(&got, expected, "split at byte {i}");
    }
    let single: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(&parse(new(), &single), expected, "byte by byte");
}
