//! The `llm-router` command: `serve` runs the MCP server over stdio (what Claude Desktop and
//! OpenClaw spawn) or HTTP; `config` checks and explains the config file. `main` only sets up
//! logging and maps errors to exit codes; `run` does the work.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use llm_router::App;
use llm_router::config::{self, RawConfig};
use llm_router::server::http::HttpOptions;
use tracing_subscriber::EnvFilter;

/// An MCP tool server that lets AI agents call 70+ LLMs through the AIsa gateway, with
/// honest usage, cost and latency on every answer.
#[derive(Parser)]
#[command(name = "llm-router", version, about, long_about = None)]
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
    Serve {
        /// A directory from which the vision tool may read local images (repeatable).
        #[arg(long = "allow-dir", value_name = "DIR")]
        allow_dir: Vec<PathBuf>,

        /// Serve MCP over HTTP instead of stdio: Streamable HTTP at /mcp, legacy HTTP+SSE at
        /// /sse, health at /healthz. ADDR defaults to the config's http.addr, else
        /// 127.0.0.1:8787; port 0 picks a free port. LLM_ROUTER_AUTH_TOKEN, when set, is the
        /// Bearer token clients must send.
        #[arg(long = "http", value_name = "ADDR", num_args = 0..=1)]
        http: Option<Option<SocketAddr>>,

        /// An extra browser Origin allowed over HTTP, e.g. https://app.example.com
        /// (repeatable; http://localhost, 127.0.0.1 and [::1] on any port are always allowed).
        #[arg(long = "allow-origin", value_name = "ORIGIN", requires = "http")]
        allow_origin: Vec<String>,

        /// An extra Host name accepted over HTTP, e.g. mcp.example.com (repeatable;
        /// localhost, 127.0.0.1, [::1] and the bound address are always accepted).
        #[arg(long = "allow-host", value_name = "HOST", requires = "http")]
        allow_host: Vec<String>,

        /// Allow --http on a non-loopback address without LLM_ROUTER_AUTH_TOKEN.
        #[arg(long = "insecure-no-auth", requires = "http")]
        insecure_no_auth: bool,
    },

    /// Check or explain the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check a config file (default: the one `serve` would read) and summarize it.
    Check {
        /// The file to check (overrides --config).
        path: Option<PathBuf>,
    },
    /// Print a commented example config file.
    Example,
    /// Print the path of the config file `serve` would read, and whether it exists.
    Path,
}

fn main() -> ExitCode {
    init_logging();
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
    match runtime.block_on(run(Cli::parse())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llm-router: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            allow_dir,
            http,
            allow_origin,
            allow_host,
            insecure_no_auth,
        } => {
            let mut raw = RawConfig::load(cli.config.as_deref())?;
            raw.allowed_dirs = allow_dir;
            let config = raw.check()?;
            if let Some(file) = &config.file {
                tracing::info!(config = %file.display(), "config file loaded");
            }
            let mut http_config = config.http.clone();
            let app = App::new(config)?;
            match http {
                None => llm_router::server::stdio::serve(app).await,
                Some(addr) => {
                    if let Some(addr) = addr {
                        http_config.addr = addr;
                    }
                    http_config.allow_origins.extend(allow_origin);
                    http_config.allow_hosts.extend(allow_host);
                    let opts = HttpOptions::new(http_config, insecure_no_auth);
                    llm_router::server::http::serve(app, opts).await
                }
            }
        }
        Command::Config(cmd) => config_command(cmd, cli.config.as_deref()),
    }
}

/// `llm-router config …`: these print to stdout (no MCP session runs here).
fn config_command(cmd: ConfigCommand, flag: Option<&Path>) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Example => print!("{}", config::file::EXAMPLE),
        ConfigCommand::Path => match config::file::locate(flag) {
            None => println!("no config path: neither XDG_CONFIG_HOME nor HOME is set"),
            Some(loc) => {
                let state = if loc.path().exists() {
                    "exists"
                } else {
                    "does not exist"
                };
                println!("{} ({}; {state})", loc.path().display(), loc.origin());
            }
        },
        ConfigCommand::Check { path } => {
            let flag = path.as_deref().or(flag);
            let raw = RawConfig::load(flag)?;
            let Some((loc, _)) = raw.file.clone() else {
                let where_ = config::file::locate(flag)
                    .map(|l| l.path().display().to_string())
                    .unwrap_or_else(|| "(no default path)".to_owned());
                println!("no config file at {where_}; built-in defaults and env vars apply");
                raw.check()?;
                return Ok(());
            };
            let c = raw.check()?;
            println!("{}: ok", loc.path().display());
            println!("  base_url        {}", c.base_url);
            println!("  default_model   {}", c.catalog.default_model);
            println!("  vision model    {}", c.catalog.default_vision_model);
            println!(
                "  fallbacks       {}",
                if c.default_fallbacks.is_empty() {
                    "(none)".to_owned()
                } else {
                    c.default_fallbacks.join(" → ")
                }
            );
            println!(
                "  models          {} in the catalog",
                c.catalog.models().len()
            );
            println!(
                "  retry           {} tries, {:?} base, {:?} cap, ±{:.0}% jitter",
                c.retry.attempts,
                c.retry.base_delay,
                c.retry.max_delay,
                c.retry.jitter * 100.0
            );
            println!(
                "  timeouts        connect {:?}, first byte {:?}, total {:?}",
                c.connect_timeout, c.first_byte_timeout, c.timeout
            );
            println!(
                "  api key         {}",
                if c.api_key.is_some() {
                    "set (AISA_API_KEY)"
                } else {
                    "not set (AISA_API_KEY)"
                }
            );
        }
    }
    Ok(())
}

/// Logs go to stderr (stdout is the MCP channel), without colour codes, at `RUST_LOG` or
/// `info`.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
