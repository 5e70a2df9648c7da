//! `llm-router models`: the `list_models` tool as a table — the gateway's live list merged
//! with the catalog (family, prices, context window, capabilities), filtered and sorted.

use std::cmp::Ordering;
use std::path::Path;

use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

use super::ask::input;
use super::output::{self, note, spin, table};
use super::{OutputArgs, app};
use crate::tools::list_models::{self, ModelRow};

const EXAMPLES: &str = "\
Examples:
  llm-router models                                  # every model, by id
  llm-router models --capability vision --sort price
  llm-router models --family anthropic --json
  llm-router models --max-input-price 0.5 --sort price

Prices are USD per 1M tokens (input/output); `?` means the catalog has no price for it.
live: yes/no = listed by the gateway now or not; ? = the live list could not be fetched.";

/// A capability to filter on.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Capability {
    Vision,
    Tools,
    Reasoning,
}

/// How to order the table.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
enum Sort {
    /// By id.
    #[default]
    Id,
    /// Cheapest first (input, then output price); unpriced models last.
    Price,
    /// Largest context window first.
    Context,
    /// By family, then id.
    Family,
}

/// Flags of `models`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub(crate) struct ModelsArgs {
    /// Only this family: openai, anthropic, google, deepseek, qwen, xai, mistral, …
    #[arg(long, value_name = "FAMILY")]
    family: Option<String>,

    /// Only models with this capability.
    #[arg(long, value_enum)]
    capability: Option<Capability>,

    /// Only models costing at most this many USD per 1M input tokens.
    #[arg(long, value_name = "USD")]
    max_input_price: Option<f64>,

    /// The order of the rows.
    #[arg(long, value_enum, default_value_t)]
    sort: Sort,

    #[command(flatten)]
    pub(crate) out: OutputArgs,
}

/// `llm-router models`.
pub(crate) async fn run(a: ModelsArgs, flag: Option<&Path>) -> anyhow::Result<()> {
    let mut args = Map::new();
    if let Some(f) = &a.family {
        args.insert("family".into(), Value::String(f.clone()));
    }
    if let Some(c) = a.capability {
        let name = match c {
            Capability::Vision => "vision",
            Capability::Tools => "tools",
            Capability::Reasoning => "reasoning",
        };
        args.insert("capability".into(), Value::String(name.into()));
    }
    if let Some(p) = a.max_input_price {
        args.insert("max_input_price".into(), p.into());
    }
    let input: list_models::Input = input(list_models::NAME, args)?;
    let app = app(flag, Vec::new())?;
    let mut out = spin("listing models", list_models::execute(&app, input)).await?;
    sort(&mut out.models, a.sort);
    if a.out.json {
        return output::json(&out);
    }
    output::stdout(&render(&out.models))?;
    note(&format!("{} models. {}", out.models.len(), out.note));
    Ok(())
}

fn sort(rows: &mut [ModelRow], by: Sort) {
    let price = |r: &ModelRow| (r.input_price, r.output_price);
    match by {
        Sort::Id => rows.sort_by(|a, b| a.id.cmp(&b.id)),
        Sort::Family => rows.sort_by(|a, b| a.family.cmp(&b.family).then(a.id.cmp(&b.id))),
        Sort::Context => rows.sort_by(|a, b| {
            b.context_window
                .cmp(&a.context_window)
                .then(a.id.cmp(&b.id))
        }),
        Sort::Price => rows.sort_by(|a, b| {
            let (ai, ao) = price(a);
            let (bi, bo) = price(b);
            unknown_last(ai, bi)
                .then(unknown_last(ao, bo))
                .then(a.id.cmp(&b.id))
        }),
    }
}

/// Orders known values ascending, unknown ones after them.
fn unknown_last(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn render(rows: &[ModelRow]) -> String {
    let price = |p: Option<f64>| p.map_or_else(|| "?".to_owned(), |p| format!("{p}"));
    let rows = rows
        .iter()
        .map(|r| {
            let caps: Vec<&str> = [
                (r.vision, "vision"),
                (r.tools, "tools"),
                (r.reasoning, "reasoning"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            let live = match r.available {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?",
            };
            vec![
                r.id.clone(),
                r.provider.clone(),
                r.family.clone(),
                price(r.input_price),
                price(r.output_price),
                r.context_window
                    .map_or_else(|| "?".to_owned(), |c| c.to_string()),
                caps.join(","),
                live.to_owned(),
            ]
        })
        .collect();
    table(
        &[
            "id",
            "provider",
            "family",
            "in $/1M",
            "out $/1M",
            "context",
            "capabilities",
            "live",
        ],
        rows,
        &[3, 4, 5],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, input: Option<f64>, context: Option<u64>) -> ModelRow {
        ModelRow {
            id: id.into(),
            provider: "aisa".into(),
            family: "f".into(),
            context_window: context,
            vision: false,
            tools: false,
            reasoning: false,
            input_price: input,
            output_price: input,
            available: None,
            in_catalog: input.is_some(),
        }
    }

    #[test]
    fn price_sort_puts_unpriced_models_last_and_context_sort_largest_first() {
        let mut rows = vec![
            row("b", Some(1.0), Some(5000)),
            row("x", None, None),
            row("a", Some(0.1), Some(1000)),
        ];
        let ids = |rows: &[ModelRow]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        sort(&mut rows, Sort::Price);
        assert_eq!(ids(&rows), ["a", "b", "x"]);
        sort(&mut rows, Sort::Context);
        assert_eq!(ids(&rows), ["b", "a", "x"]);
        sort(&mut rows, Sort::Id);
        assert_eq!(ids(&rows), ["a", "b", "x"]);
    }
}
