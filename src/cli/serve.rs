//! `llm-router serve` (the MCP server over stdio or HTTP) and `llm-router config`
//! (check, example, path). `config` prints to stdout: no MCP session runs there.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use serde_json::json;

use super::OutputArgs;
use super::output::{self, stdout};
use crate::App;
use crate::config::{self, RawConfig};
use crate::server::http::HttpOptions;

const SERVE_EXAMPLES: &str = "\
Examples:
  AISA_API_KEY=sk-... llm-router serve                  # stdio, as MCP clients spawn it
  llm-router serve --allow-dir ~/Pictures               # vision may read images there
  llm-router serve --http 127.0.0.1:8787                # Streamable HTTP at /mcp";

/// Flags of `serve`.
#[derive(Args)]
#[command(after_help = SERVE_EXAMPLES)]
pub struct ServeArgs {
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
}

/// `llm-router config …`.
#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Check a config file (default: the one `serve` would read) and summarize it.
    Check {
        /// The file to check (overrides --config).
        path: Option<PathBuf>,

        #[command(flatten)]
        out: OutputArgs,
    },
    /// Print a commented example config file.
    Example,
    /// Print the path of the config file `serve` would read, and whether it exists.
    Path {
        #[command(flatten)]
        out: OutputArgs,
    },
}

impl ConfigCommand {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        match self {
            ConfigCommand::Check { out, .. } | ConfigCommand::Path { out } => out.json,
            ConfigCommand::Example => false,
        }
    }
}

/// Runs the MCP server until the client disconnects (stdio) or a signal arrives (HTTP).
pub async fn serve(args: ServeArgs, flag: Option<&Path>) -> anyhow::Result<()> {
    let mut raw = RawConfig::load(flag)?;
    raw.allowed_dirs = args.allow_dir;
    let config = raw.check()?;
    if let Some(file) = &config.file {
        tracing::info!(config = %file.display(), "config file loaded");
    }
    let mut http_config = config.http.clone();
    let app = App::new(config)?;
    match args.http {
        None => crate::server::stdio::serve(app).await,
        Some(addr) => {
            if let Some(addr) = addr {
                http_config.addr = addr;
            }
            http_config.allow_origins.extend(args.allow_origin);
            http_config.allow_hosts.extend(args.allow_host);
            let opts = HttpOptions::new(http_config, args.insecure_no_auth);
            crate::server::http::serve(app, opts).await
        }
    }
}

/// `llm-router config check|example|path`.
pub fn config_command(cmd: ConfigCommand, flag: Option<&Path>) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Example => stdout(config::file::EXAMPLE)?,
        ConfigCommand::Path { out } if out.json => {
            let loc = config::file::locate(flag);
            output::json(&json!({
                "path": loc.as_ref().map(|l| l.path().display().to_string()),
                "origin": loc.as_ref().map(|l| l.origin()),
                "exists": loc.as_ref().is_some_and(|l| l.path().exists()),
            }))?;
        }
        ConfigCommand::Path { .. } => match config::file::locate(flag) {
            None => stdout("no config path: neither XDG_CONFIG_HOME nor HOME is set\n")?,
            Some(loc) => {
                let state = if loc.path().exists() {
                    "exists"
                } else {
                    "does not exist"
                };
                stdout(&format!(
                    "{} ({}; {state})\n",
                    loc.path().display(),
                    loc.origin()
                ))?;
            }
        },
        ConfigCommand::Check { path, out } => check(path.as_deref().or(flag), out.json)?,
    }
    Ok(())
}

fn check(flag: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let raw = RawConfig::load(flag)?;
    if json {
        let file = raw
            .file
            .as_ref()
            .map(|(l, _)| l.path().display().to_string());
        let c = raw.check()?;
        return output::json(&json!({
            "ok": true,
            "file": file,
            "base_url": c.base_url.as_str(),
            "default_model": c.catalog.default_model,
            "default_vision_model": c.catalog.default_vision_model,
            "fallback_models": c.default_fallbacks,
            "catalog_models": c.catalog.models().len(),
            "retry_attempts": c.retry.attempts,
            "timeouts_secs": {
                "connect": c.connect_timeout.as_secs_f64(),
                "first_byte": c.first_byte_timeout.as_secs_f64(),
                "total": c.timeout.as_secs_f64(),
            },
            "api_key_set": c.api_key.is_some(),
            "providers": c.providers.iter().map(|(p, serves)| json!({
                "name": p.name,
                "base_url": p.base_url,
                "style": p.style.name(),
                "key_env": p.key_required.then_some(&p.key_env),
                "key_set": p.key.is_some(),
                "models": serves.ids,
                "globs": serves.globs,
                "discover": serves.discover,
            })).collect::<Vec<_>>(),
        }));
    }
    let Some((loc, _)) = raw.file.clone() else {
        let where_ = config::file::locate(flag)
            .map(|l| l.path().display().to_string())
            .unwrap_or_else(|| "(no default path)".to_owned());
        stdout(&format!(
            "no config file at {where_}; built-in defaults and env vars apply\n"
        ))?;
        raw.check()?;
        return Ok(());
    };
    let c = raw.check()?;
    let fallbacks = if c.default_fallbacks.is_empty() {
        "(none)".to_owned()
    } else {
        c.default_fallbacks.join(" → ")
    };
    let key = if c.api_key.is_some() {
        "set (AISA_API_KEY)"
    } else {
        "not set (AISA_API_KEY)"
    };
    let mut s = format!("{}: ok\n", loc.path().display());
    s.push_str(&format!("  base_url        {}\n", c.base_url));
    s.push_str(&format!("  default_model   {}\n", c.catalog.default_model));
    s.push_str(&format!(
        "  vision model    {}\n",
        c.catalog.default_vision_model
    ));
    s.push_str(&format!("  fallbacks       {fallbacks}\n"));
    s.push_str(&format!(
        "  models          {} in the catalog\n",
        c.catalog.models().len()
    ));
    s.push_str(&format!(
        "  retry           {} tries, {:?} base, {:?} cap, ±{:.0}% jitter\n",
        c.retry.attempts,
        c.retry.base_delay,
        c.retry.max_delay,
        c.retry.jitter * 100.0
    ));
    s.push_str(&format!(
        "  timeouts        connect {:?}, first byte {:?}, total {:?}\n",
        c.connect_timeout, c.first_byte_timeout, c.timeout
    ));
    s.push_str(&format!("  api key         {key}\n"));
    for (p, serves) in &c.providers {
        let key = match (p.key_required, p.key.is_some()) {
            (false, _) => "no key".to_owned(),
            (true, true) => format!("key set ({})", p.key_env),
            (true, false) => format!("key NOT set ({})", p.key_env),
        };
        let mut serves_what: Vec<String> =
            serves.ids.iter().chain(&serves.globs).cloned().collect();
        if serves.discover {
            serves_what.push("whatever its /models lists".to_owned());
        }
        let serves_what = if serves_what.is_empty() {
            "only provider/model addresses".to_owned()
        } else {
            serves_what.join(", ")
        };
        s.push_str(&format!(
            "  provider        {} ({}) {} · {key} · serves {serves_what}\n",
            p.name,
            p.style.name(),
            p.base_url
        ));
    }
    stdout(&s)?;
    Ok(())
}
