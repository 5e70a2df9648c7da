//! `llm-router compare`: the same conversation to 2–10 models at once, through the
//! `compare_models` tool. Prints a table (model, latency, tokens, cost, the first line of the
//! answer or the error), who was fastest and cheapest, then every answer in full.

use std::path::Path;

use clap::Args;
use serde_json::{Map, Value};

use super::ask::{Prompt, Sampling, input};
use super::output::{self, first_line, spin, table, usd};
use super::{OutputArgs, app, interrupt_token};
use crate::tools::compare;

const EXAMPLES: &str = "\
Examples:
  llm-router compare --models gpt-4.1-mini,gemini-2.5-flash,deepseek-v3.2 --message \"A haiku about rain\"
  llm-router compare --models gpt-5,claude-sonnet-4-5 --system \"Answer in one line\" --message \"P = NP?\"
  llm-router compare --models gpt-4o-mini,qwen3-max --message - --json < question.txt

One model failing does not fail the command (its row says why); exit code 1 only when every
model failed.";

/// How much of each answer the table shows.
const FIRST_LINE_CHARS: usize = 60;

/// Flags of `compare`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub(crate) struct CompareArgs {
    /// 2–10 model ids or aliases, comma-separated (or repeat the flag).
    #[arg(long, value_name = "MODELS", value_delimiter = ',', required = true)]
    models: Vec<String>,

    #[command(flatten)]
    prompt: Prompt,

    #[command(flatten)]
    sampling: Sampling,

    #[command(flatten)]
    pub(crate) out: OutputArgs,
}

/// `llm-router compare`.
pub(crate) async fn run(a: CompareArgs, flag: Option<&Path>) -> anyhow::Result<()> {
    let mut args = Map::new();
    args.insert(
        "models".into(),
        Value::Array(a.models.iter().cloned().map(Value::String).collect()),
    );
    a.prompt.add_to(&mut args).await?;
    a.sampling.add_to(&mut args);
    let input: compare::Input = input(compare::NAME, args)?;
    let app = app(flag, Vec::new())?;
    let ct = interrupt_token();
    let message = format!("asking {} models", a.models.len());
    let out = spin(
        message,
        compare::execute(&app, input, &crate::pipeline::Ctx::new(ct)),
    )
    .await?;
    if a.out.json {
        return output::json(&out);
    }
    output::stdout(&render(&out))?;
    Ok(())
}

/// The table, the summary and the full answers.
fn render(out: &compare::Output) -> String {
    let rows = out
        .results
        .iter()
        .map(|r| {
            let tokens = r.usage.map_or_else(
                || "-".to_owned(),
                |u| format!("{}/{}", u.prompt_tokens, u.completion_tokens),
            );
            let answer = match (&r.content, &r.error) {
                (Some(c), _) => first_line(c, FIRST_LINE_CHARS),
                (None, Some(e)) => first_line(&format!("failed: {e}"), FIRST_LINE_CHARS),
                (None, None) => String::new(),
            };
            let cost = if r.ok { usd(r.cost_usd) } else { "-".into() };
            vec![
                r.model.clone(),
                format!("{} ms", r.latency_ms),
                tokens,
                cost,
                answer,
            ]
        })
        .collect();
    let mut s = table(
        &["model", "latency", "tokens in/out", "cost", "answer"],
        rows,
        &[1, 2, 3],
    );
    let sum = &out.summary;
    s.push_str(&format!(
        "\nfastest: {} · cheapest: {} · total ${:.6}\n",
        sum.fastest.as_deref().unwrap_or("-"),
        sum.cheapest.as_deref().unwrap_or("-"),
        sum.total_cost_usd
    ));
    for r in &out.results {
        let served = match &r.served_model {
            Some(m) if *m != r.model => format!(" (served by {m})"),
            _ => String::new(),
        };
        s.push_str(&format!("\n## {}{served}\n", r.model));
        match (&r.content, &r.error) {
            (Some(c), _) => s.push_str(c.trim_end()),
            (None, Some(e)) => s.push_str(&format!("(failed) {e}")),
            (None, None) => {}
        }
        s.push('\n');
    }
    s
}
