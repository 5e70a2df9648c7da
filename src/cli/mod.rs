//! The `llm-router` command line.
//!
//! `serve` runs the MCP server (what Claude Desktop and OpenClaw spawn); `config` checks and
//! explains the config file; `chat`, `vision`, `compare`, `models` and `route` call the same
//! tool code the MCP server runs (`tools::*::execute` with the tools' own `Input` types, built
//! from the flags as MCP arguments would be), so the command line and the server cannot
//! drift; `doctor` checks a setup end to end.
//!
//! Exit codes: 0 ok, 1 the gateway or a model failed, 2 bad usage or configuration (clap's
//! own usage errors exit 2 too), 130 interrupted. [`command`] exposes the clap tree, so tests
//! can check that the skill only names commands and flags that exist.

mod ask;
mod compare;
mod doctor;
mod models;
mod output;
mod serve;
mod usage;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, CommandFactory, Parser, Subcommand};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::App;
use crate::config::{ConfigError, RawConfig};

const ROOT_EXAMPLES: &str = "\
Examples:
  llm-router chat --model claude-sonnet-4-5 --message \"Explain Rust lifetimes in 3 lines\"
  llm-router compare --models gpt-4.1-mini,gemini-2.5-flash,deepseek-v3.2 --message \"A haiku about rain\"
  llm-router models --capability vision --sort price
  llm-router route --task code --message \"Binary search in Go\" --dry-run
  llm-router doctor
  llm-router serve                      # MCP over stdio, for Claude Desktop, OpenClaw, …

Every command but serve and config example takes --json (one JSON document on stdout).
Exit codes: 0 ok, 1 the gateway or a model failed, 2 bad usage or configuration.
Environment: AISA_API_KEY (the gateway key), AISA_BASE_URL, LLM_ROUTER_CONFIG, RUST_LOG.";

/// An MCP tool server that lets AI agents call 70+ LLMs through the AIsa gateway, with
/// honest usage, cost and latency on every answer.
#[derive(Parser)]
#[command(name = "llm-router", version, about, long_about = None, after_help = ROOT_EXAMPLES)]
struct Cli {
    /// The config file (TOML). Default: $LLM_ROUTER_CONFIG, else
    /// $XDG_CONFIG_HOME/llm-router/config.toml when it exists. `llm-router config example`
    /// prints a commented one.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP over stdio (for Claude Desktop, OpenClaw and other MCP clients), or over
    /// HTTP with --http.
    ///
    /// Environment: AISA_API_KEY (the gateway key), AISA_BASE_URL (default
    /// https://api.aisa.one/v1; any OpenAI-compatible URL), LLM_ROUTER_TIMEOUT_SECS (default
    /// 120), LLM_ROUTER_ALLOWED_DIRS (dirs vision may read images from), LLM_ROUTER_AUTH_TOKEN
    /// (with --http: the Bearer token clients must send), LLM_ROUTER_CONFIG (the config
    /// file), RUST_LOG (log level; logs go to stderr).
    Serve(serve::ServeArgs),

    /// Check or explain the config file.
    #[command(subcommand)]
    Config(serve::ConfigCommand),

    /// Ask one model; prints its answer (the model, tokens, cost and latency go to stderr).
    Chat(ask::ChatArgs),

    /// Ask a vision model about one or more images (URLs or local files).
    Vision(ask::VisionArgs),

    /// List the models: the gateway's live list merged with the catalog's prices and
    /// capabilities.
    Models(models::ModelsArgs),

    /// Send the same message to 2–10 models at once; a table of latency, tokens, cost and
    /// the first line of each answer, then the full answers.
    Compare(compare::CompareArgs),

    /// Let the router pick the model for a kind of work, then ask it (or only explain the
    /// choice with --dry-run).
    Route(ask::RouteArgs),

    /// Check the setup: key, gateway, models, balance, config. Each line says what to fix.
    Doctor(doctor::DoctorArgs),

    /// What the calls cost: totals and a breakdown by model, tool, day, task or provider from the
    /// usage ledger, and the gateway balance.
    Usage(usage::UsageArgs),
}

/// `--json`, taken by every command that prints a result.
#[derive(Args, Clone, Copy, Debug, Default)]
pub(crate) struct OutputArgs {
    /// Print one JSON document on stdout (the tool's structured result) instead of text;
    /// errors become {"error": {"kind", "message"}}.
    #[arg(long)]
    pub(crate) json: bool,
}

impl Command {
    fn json(&self) -> bool {
        match self {
            Command::Serve(_) => false,
            Command::Config(c) => c.json(),
            Command::Chat(a) => a.out.json,
            Command::Vision(a) => a.out.json,
            Command::Models(a) => a.out.json,
            Command::Compare(a) => a.out.json,
            Command::Route(a) => a.out.json,
            Command::Doctor(a) => a.out.json,
            Command::Usage(a) => a.out.json,
        }
    }
}

/// The clap command tree (for help text, completions and tests).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses the command line, runs the command and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve(_));
    // The server logs its calls; a one-shot command keeps stderr for its own notes unless
    // RUST_LOG asks for more.
    init_logging(if serving { "info" } else { "error" });
    let json = cli.command.json();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llm-router: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e, json, serving),
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let flag = cli.config.as_deref();
    match cli.command {
        Command::Serve(args) => serve::serve(args, flag).await,
        Command::Config(cmd) => serve::config_command(cmd, flag),
        Command::Chat(args) => ask::chat(args, flag).await,
        Command::Vision(args) => ask::vision(args, flag).await,
        Command::Models(args) => models::run(args, flag).await,
        Command::Compare(args) => compare::run(args, flag).await,
        Command::Route(args) => ask::route(args, flag).await,
        Command::Doctor(args) => doctor::run(args, flag).await,
        Command::Usage(args) => usage::run(args, flag).await,
    }
}

/// A mistake in how the command was called that clap cannot see (e.g. `--messages` that is
/// not JSON). Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Usage(pub(crate) String);

/// The result of a command whose checks failed (doctor): the lines were already printed, so
/// only the exit code is left to give.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Silent {
    pub(crate) code: u8,
    pub(crate) message: String,
}

/// The exit code for an error: 2 for what the user can fix in the command or config, 1 for
/// failures of the gateway or a model, 130 when interrupted.
fn exit_code(e: &anyhow::Error) -> u8 {
    use crate::Error as E;
    if let Some(s) = e.downcast_ref::<Silent>() {
        return s.code;
    }
    if e.downcast_ref::<Usage>().is_some() || e.downcast_ref::<ConfigError>().is_some() {
        return 2;
    }
    match e.downcast_ref::<E>() {
        Some(
            E::InvalidArgument(_) | E::File(_) | E::MissingApiKey | E::ProviderKeyMissing { .. },
        ) => 2,
        Some(E::Cancelled) => 130,
        _ => 1,
    }
}

fn kind(e: &anyhow::Error) -> &'static str {
    if e.downcast_ref::<Usage>().is_some() {
        "usage"
    } else if e.downcast_ref::<ConfigError>().is_some() {
        "config"
    } else if let Some(e) = e.downcast_ref::<crate::Error>() {
        e.kind()
    } else {
        "internal"
    }
}

/// Prints a failed command's error (stderr; with `--json` also as JSON on stdout) and
/// returns its exit code. A closed stdout (`| head`) is not an error. `serve` fails only
/// while setting up (config, address, auth), so its failures all exit 2, as they always have.
fn report(e: &anyhow::Error, json: bool, serving: bool) -> ExitCode {
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && io.kind() == std::io::ErrorKind::BrokenPipe
    {
        return ExitCode::SUCCESS;
    }
    let code = if serving { 2 } else { exit_code(e) };
    if e.downcast_ref::<Silent>().is_none() {
        eprintln!("llm-router: {e:#}");
        if json {
            let body = json!({"error": {"kind": kind(e), "message": format!("{e:#}")}});
            // Best effort: the message is already on stderr.
            let _ = output::json(&body);
        }
    }
    ExitCode::from(code)
}

/// Reads the environment and config file, adds `extra_dirs` to the directories vision may
/// read, checks it all and builds the application.
pub(crate) fn app(flag: Option<&Path>, extra_dirs: Vec<PathBuf>) -> anyhow::Result<Arc<App>> {
    let mut raw = RawConfig::load(flag)?;
    raw.allowed_dirs = extra_dirs;
    let config = raw.check()?;
    App::new(config)
}

/// A cancellation token that Ctrl-C cancels, so an interrupted call drops its upstream
/// request at once (the tools watch the token, as they do for an MCP client's cancel).
pub(crate) fn interrupt_token() -> CancellationToken {
    let ct = CancellationToken::new();
    let on_interrupt = ct.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    ct
}

/// Logs go to stderr (stdout is the MCP channel, or the command's result), without colour
/// codes, at `RUST_LOG` or `default`.
fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn exit_codes_separate_usage_from_upstream_failures() {
        let code = |e: anyhow::Error| exit_code(&e);
        assert_eq!(code(Usage("x".into()).into()), 2);
        assert_eq!(code(crate::error::invalid("bad").into()), 2);
        assert_eq!(code(crate::Error::MissingApiKey.into()), 2);
        assert_eq!(
            code(
                crate::Error::Upstream {
                    status: 502,
                    message: String::new()
                }
                .into()
            ),
            1
        );
        assert_eq!(code(crate::Error::Cancelled.into()), 130);
        assert_eq!(
            code(anyhow::Error::from(crate::Error::MissingApiKey).context("while asking")),
            2
        );
    }
}
