//! `chat`, `vision` and `route`: the commands that ask one model and print its answer.
//!
//! Each builds the tool's arguments exactly as an MCP client would send them (a JSON object
//! with the tool's argument names), deserializes them into the tool's own `Input` and runs the
//! tool's `execute` — the pipeline the MCP server runs, with its checks and error messages.
//! The answer goes to stdout; the model, tokens, cost and latency go to stderr, so
//! `llm-router chat … > answer.txt` keeps only the answer.

use std::path::{Path, PathBuf};

use clap::Args;
use clap::builder::PossibleValuesParser;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

use super::output::{self, answer_body, answer_facts, note, spin};
use super::{OutputArgs, Usage, app, interrupt_token};
use crate::pipeline::{Answer, Ctx, Progress};
use crate::routing::Task;
use crate::tools::{chat, route_by_task, vision};

const CHAT_EXAMPLES: &str = "\
Examples:
  llm-router chat --message \"What is the capital of France?\"
  llm-router chat --model claude-sonnet-4-5 --system \"Be brief\" --message \"Explain monads\"
  git diff | llm-router chat --model gpt-4.1 --message -          # the message from stdin
  llm-router chat --messages '[{\"role\":\"user\",\"content\":\"hi\"}]' --json
  llm-router chat --model gpt-5 --fallback claude-sonnet-4-5,gemini-2.5-pro --message \"…\"";

const VISION_EXAMPLES: &str = "\
Examples:
  llm-router vision --image https://example.com/cat.jpg --prompt \"What breed is this?\"
  llm-router vision --model gemini-2.5-flash --image ./chart.png --prompt \"Summarize the trend\"
  llm-router vision --image a.png --image b.png --prompt \"What changed?\" --detail low";

const ROUTE_EXAMPLES: &str = "\
Examples:
  llm-router route --task code --message \"Write a binary search in Go\"
  llm-router route --message \"证明根号2是无理数\" --dry-run      # --task auto (the default)
  llm-router route --task cheap --message \"Classify: 'great product!'\" --dry-run
  llm-router route --task long_context --messages @conversation.json --json";

/// The conversation: one message, or a whole conversation as JSON.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub(crate) struct Conversation {
    /// The user message. `-` reads it from stdin.
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,

    /// The whole conversation as a JSON array, [{"role": "user", "content": "…"}, …]
    /// (roles: system, user, assistant, tool); @FILE reads it from a file.
    #[arg(long, value_name = "JSON")]
    messages: Option<String>,
}

/// What to send: the conversation and an optional system instruction.
#[derive(Args, Debug)]
pub(crate) struct Prompt {
    #[command(flatten)]
    conversation: Conversation,

    /// A system instruction, sent before the conversation.
    #[arg(long, value_name = "TEXT")]
    system: Option<String>,
}

impl Prompt {
    /// Adds `prompt` or `messages`, and `system`, to the tool arguments.
    pub(crate) async fn add_to(&self, args: &mut Map<String, Value>) -> anyhow::Result<()> {
        if let Some(message) = &self.conversation.message {
            let text = if message == "-" {
                let mut text = String::new();
                tokio::io::stdin()
                    .read_to_string(&mut text)
                    .await
                    .map_err(|e| Usage(format!("--message -: cannot read stdin: {e}")))?;
                text
            } else {
                message.clone()
            };
            args.insert("prompt".into(), Value::String(text));
        }
        if let Some(messages) = &self.conversation.messages {
            args.insert("messages".into(), messages_json(messages).await?);
        }
        if let Some(system) = &self.system {
            args.insert("system".into(), Value::String(system.clone()));
        }
        Ok(())
    }
}

/// Reads `--messages`: JSON text, or `@FILE`.
async fn messages_json(arg: &str) -> anyhow::Result<Value> {
    let (text, from) = match arg.strip_prefix('@') {
        Some(path) => {
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| Usage(format!("--messages @{path}: cannot read the file: {e}")))?;
            (text, format!("--messages @{path}"))
        }
        None => (arg.to_owned(), "--messages".to_owned()),
    };
    serde_json::from_str(&text).map_err(|e| {
        Usage(format!(
            "{from} is not valid JSON ({e}); give an array such as \
             '[{{\"role\":\"user\",\"content\":\"hi\"}}]'"
        ))
        .into()
    })
}

/// Sampling flags shared by the commands that call a model.
#[derive(Args, Debug)]
pub(crate) struct Sampling {
    /// 0–2; lower is more deterministic.
    #[arg(long, value_name = "T")]
    temperature: Option<f64>,

    /// The most tokens the model may generate.
    #[arg(long, value_name = "N")]
    max_tokens: Option<u32>,
}

impl Sampling {
    pub(crate) fn add_to(&self, args: &mut Map<String, Value>) {
        if let Some(t) = self.temperature {
            args.insert("temperature".into(), t.into());
        }
        if let Some(n) = self.max_tokens {
            args.insert("max_tokens".into(), n.into());
        }
    }
}

/// Flags of `chat`.
#[derive(Args, Debug)]
#[command(after_help = CHAT_EXAMPLES)]
pub(crate) struct ChatArgs {
    /// Model id or alias, e.g. gpt-4.1, claude-sonnet-4-5 (default: the config's
    /// default_model, else gpt-4.1-mini).
    #[arg(short, long, value_name = "MODEL")]
    model: Option<String>,

    #[command(flatten)]
    prompt: Prompt,

    #[command(flatten)]
    sampling: Sampling,

    /// Models to try in order if the first one fails (comma-separated or repeated).
    #[arg(long = "fallback", value_name = "MODEL", value_delimiter = ',')]
    fallbacks: Vec<String>,

    /// Print the answer as it is generated.
    #[arg(long)]
    stream: bool,

    /// The wire format to reach the model with: openai (default), or gemini / anthropic for
    /// the gateway's native routes.
    #[arg(long, value_name = "STYLE")]
    api: Option<String>,

    #[command(flatten)]
    pub(crate) out: OutputArgs,
}

/// Flags of `vision`.
#[derive(Args, Debug)]
#[command(after_help = VISION_EXAMPLES)]
pub(crate) struct VisionArgs {
    /// A vision model (default: the config's vision model, else gpt-4.1-mini).
    #[arg(short, long, value_name = "MODEL")]
    model: Option<String>,

    /// An image: an https URL, a data: URI or a local file (PNG, JPEG, GIF, WebP).
    /// Repeat for several (up to 16).
    #[arg(long, value_name = "URL|PATH", required = true)]
    image: Vec<String>,

    /// What to ask about the images.
    #[arg(long, value_name = "TEXT")]
    prompt: String,

    /// How closely the model looks: low is cheaper.
    #[arg(long, value_parser = ["low", "high", "auto"])]
    detail: Option<String>,

    #[command(flatten)]
    sampling: Sampling,

    /// Models to try in order if the first one fails (comma-separated or repeated).
    #[arg(long = "fallback", value_name = "MODEL", value_delimiter = ',')]
    fallbacks: Vec<String>,

    #[command(flatten)]
    pub(crate) out: OutputArgs,
}

/// Flags of `route`.
#[derive(Args, Debug)]
#[command(after_help = ROUTE_EXAMPLES)]
pub(crate) struct RouteArgs {
    /// The kind of work (auto: classify the prompt); the router picks the model (and its
    /// fallbacks) for it.
    #[arg(long, value_name = "TASK", default_value = "auto",
          value_parser = PossibleValuesParser::new(
              std::iter::once("auto").chain(Task::ALL.iter().map(|t| t.as_str()))))]
    task: String,

    #[command(flatten)]
    prompt: Prompt,

    #[command(flatten)]
    sampling: Sampling,

    /// Only decide and explain the choice: no model is called, nothing is spent.
    #[arg(long)]
    dry_run: bool,

    /// Models to try in order if the chosen one fails (default: the task's chain).
    #[arg(long = "fallback", value_name = "MODEL", value_delimiter = ',')]
    fallbacks: Vec<String>,

    #[command(flatten)]
    pub(crate) out: OutputArgs,
}

/// Turns the tool arguments into the tool's `Input`, as the MCP server does.
pub(crate) fn input<T: DeserializeOwned>(
    tool: &str,
    args: Map<String, Value>,
) -> anyhow::Result<T> {
    serde_json::from_value(Value::Object(args))
        .map_err(|e| crate::error::invalid(format!("{tool}: {e}")).into())
}

fn strings(values: &[String]) -> Value {
    Value::Array(values.iter().cloned().map(Value::String).collect())
}

/// `llm-router chat`.
pub(crate) async fn chat(a: ChatArgs, flag: Option<&Path>) -> anyhow::Result<()> {
    let mut args = Map::new();
    if let Some(m) = &a.model {
        args.insert("model".into(), Value::String(m.clone()));
    }
    if !a.fallbacks.is_empty() {
        args.insert("fallback_models".into(), strings(&a.fallbacks));
    }
    if let Some(api) = &a.api {
        args.insert("api".into(), Value::String(api.clone()));
    }
    a.prompt.add_to(&mut args).await?;
    a.sampling.add_to(&mut args);
    let input: chat::Input = input(chat::NAME, args)?;
    let app = app(flag, Vec::new())?;
    let ct = interrupt_token();
    if a.stream && !a.out.json {
        return chat_streamed(&app, input, ct).await;
    }
    let answer = spin("asking", chat::execute(&app, input, &Ctx::new(ct))).await?;
    print_answer(&answer, a.out.json)
}

/// `chat --stream`: the answer's text goes to stdout as it arrives, its facts to stderr at
/// the end (no spinner: the text is the progress).
async fn chat_streamed(
    app: &crate::App,
    input: chat::Input,
    ct: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = Ctx::streaming(ct, tx);
    let call = async move {
        let result = chat::execute(app, input, &ctx).await;
        drop(ctx); // closes the progress channel, which ends the printer below
        result
    };
    let print = async {
        let mut wrote_any = false;
        while let Some(p) = rx.recv().await {
            if let Progress::Text(text) = p {
                wrote_any |= !text.is_empty();
                output::stdout(&text)?;
            }
        }
        std::io::Result::Ok(wrote_any)
    };
    let (answer, printed) = tokio::join!(call, print);
    let answer = answer?;
    if printed? {
        output::stdout("\n")?;
    } else {
        // Nothing streamed (e.g. a cached answer or only tool calls): print it whole.
        output::stdout(&answer_body(&answer))?;
    }
    note(&answer_facts(&answer));
    Ok(())
}

/// An answer: the tool's structured result with `--json`; else the answer on stdout and its
/// facts on stderr.
fn print_answer(answer: &Answer, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(answer);
    }
    output::stdout(&answer_body(answer))?;
    note(&answer_facts(answer));
    Ok(())
}

/// `llm-router vision`. A local file named on the command line may be read (its directory
/// is added to the ones vision may read for this one call): the person typing the path is
/// the one granting access, unlike an agent calling the MCP tool.
pub(crate) async fn vision(a: VisionArgs, flag: Option<&Path>) -> anyhow::Result<()> {
    let mut images = Vec::with_capacity(a.image.len());
    let mut dirs: Vec<PathBuf> = Vec::new();
    for image in &a.image {
        let (image, dir) = local_image(image)?;
        if let Some(dir) = dir.filter(|d| !dirs.contains(d)) {
            dirs.push(dir);
        }
        images.push(image);
    }
    let mut args = Map::new();
    if let Some(m) = &a.model {
        args.insert("model".into(), Value::String(m.clone()));
    }
    if !a.fallbacks.is_empty() {
        args.insert("fallback_models".into(), strings(&a.fallbacks));
    }
    args.insert("prompt".into(), Value::String(a.prompt.clone()));
    args.insert("images".into(), strings(&images));
    if let Some(d) = &a.detail {
        args.insert("detail".into(), Value::String(d.clone()));
    }
    a.sampling.add_to(&mut args);
    let input: vision::Input = input(vision::NAME, args)?;
    let app = app(flag, dirs)?;
    let ct = interrupt_token();
    let answer = spin("looking", vision::execute(&app, input, &Ctx::new(ct))).await?;
    print_answer(&answer, a.out.json)
}

/// For an `--image` that is a local path: its canonical path and directory. URLs and
/// `data:` URIs pass through unchanged.
fn local_image(image: &str) -> anyhow::Result<(String, Option<PathBuf>)> {
    let lower = image.get(..8).unwrap_or(image).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("data:") {
        return Ok((image.to_owned(), None));
    }
    let path = image.strip_prefix("file://").unwrap_or(image);
    let real = std::fs::canonicalize(path)
        .map_err(|e| Usage(format!("--image {image}: cannot open it: {e}")))?;
    let dir = real.parent().map(Path::to_path_buf);
    Ok((real.display().to_string(), dir))
}

/// `llm-router route`.
pub(crate) async fn route(a: RouteArgs, flag: Option<&Path>) -> anyhow::Result<()> {
    let mut args = Map::new();
    args.insert("task".into(), Value::String(a.task.clone()));
    if !a.fallbacks.is_empty() {
        args.insert("fallback_models".into(), strings(&a.fallbacks));
    }
    if a.dry_run {
        args.insert("dry_run".into(), Value::Bool(true));
    }
    a.prompt.add_to(&mut args).await?;
    a.sampling.add_to(&mut args);
    let input: route_by_task::Input = input(route_by_task::NAME, args)?;
    let app = app(flag, Vec::new())?;
    let ct = interrupt_token();
    let out = spin(
        "routing",
        route_by_task::execute(&app, input, &Ctx::new(ct)),
    )
    .await?;
    if a.out.json {
        return output::json(&out);
    }
    match &out.answer {
        // The decision as the tool words it for an agent.
        None => output::stdout(&format!("{}\n", route_by_task::text(&out)))?,
        Some(answer) => {
            note(&out.reason);
            print_answer(answer, false)?;
        }
    }
    Ok(())
}
