//! The `llm-router` command: `serve` runs the MCP server over stdio (what Claude Desktop and
//! OpenClaw spawn); `models` prints the catalog. `main` only sets up logging and maps errors
//! to exit codes; `run` does the work.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use llm_router::App;
use llm_router::config::RawConfig;
use llm_router::server::http::HttpOptions;
use secrecy::SecretString;
use tracing_subscriber::EnvFilter;

/// An MCP tool server that lets AI agents call 70+ LLMs through the AIsa gateway, with
/// honest usage, cost and latency on every answer.
#[derive(Parser)]
#[command(name = "llm-router", version, about, long_about = None)]
struct Cli {
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
    /// (with --http: the Bearer token clients must send), RUST_LOG (log level; logs go to
    /// stderr).
    Serve {
        /// A directory from which the vision tool may read local images (repeatable).
        #[arg(long = "allow-dir", value_name = "DIR")]
        allow_dir: Vec<PathBuf>,

        /// Serve MCP over HTTP on ADDR instead of stdio: Streamable HTTP at /mcp, legacy
        /// HTTP+SSE at /sse, health at /healthz (e.g. 127.0.0.1:8787; port 0 picks one).
        /// LLM_ROUTER_AUTH_TOKEN, when set, is the Bearer token clients must send.
        #[arg(long = "http", value_name = "ADDR")]
        http: Option<SocketAddr>,

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
            let mut raw = RawConfig::from_env();
            raw.allowed_dirs = allow_dir;
            let app = App::new(raw.check()?)?;
            match http {
                None => llm_router::server::stdio::serve(app).await,
                Some(addr) => {
                    let opts = HttpOptions {
                        addr,
                        allow_origins: allow_origin,
                        allow_hosts: allow_host,
                        auth_token: std::env::var("LLM_ROUTER_AUTH_TOKEN")
                            .ok()
                            .map(SecretString::from),
                        insecure_no_auth,
                    };
                    llm_router::server::http::serve(app, opts).await
                }
            }
        }
    }
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
