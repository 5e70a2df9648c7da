//! The config file: `--config` changes defaults, prices, routes and fallbacks of a running
//! server, and `llm-router config check|example` explain and validate files.

use std::path::Path;
use std::process::Output;

use serde_json::json;

use crate::fake_upstream::FakeUpstream;
use crate::util::*;

/// Runs `llm-router ARGS` (not `serve`) with a clean environment and returns its output.
fn cli(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_llm-router"));
    cmd.args(args).env_clear().env("HOME", "/nonexistent-home");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run llm-router")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn the_config_file_sets_the_default_model_its_price_and_the_fallbacks() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "config.toml",
        r#"
default_model = "house-model"
fallback_models = ["house-model"]

[[models]]
id = "house-model"
input_price = "2.00"
output_price = "10.00"
price_source = "our contract"
"#,
    );
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .arg("--config")
        .arg(&config)
        .start()
        .await;

    // No model given: the config's default, priced from the config.
    let v = expect_ok(&server.call("chat", json!({"prompt": "hi"})).await);
    assert_eq!(fake.chat_requests()[0].body["model"], "house-model");
    assert_eq!(v["cost_source"], "catalog");
    assert_close(&v["cost_usd"], catalog_cost(2.0, 10.0));

    // A failing model with no fallbacks of its own falls back to the config's chain.
    let v = expect_ok(
        &server
            .call("chat", json!({"model": "status-503", "prompt": "hi"}))
            .await,
    );
    assert_eq!(v["model"], "house-model", "{v:#}");
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.first().unwrap()["model"], "status-503");
    assert_eq!(attempts.last().unwrap()["outcome"], "ok");
}

#[tokio::test]
async fn the_config_file_replaces_a_task_route() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "c.toml",
        "[routes]\ncreative = [\"mistral-large\", \"gpt-4.1\"]\n",
    );
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .arg("--config")
        .arg(&config)
        .start()
        .await;
    let v = expect_ok(
        &server
            .call(
                "route_by_task",
                json!({"task": "creative", "prompt": "a haiku", "dry_run": true}),
            )
            .await,
    );
    assert_eq!(v["chosen_model"], "mistral-large", "{v:#}");
    // The configured order comes first (the router may pad a short chain; see README).
    assert_eq!(v["fallback_chain"][0], "gpt-4.1", "{v:#}");
}

#[tokio::test]
async fn llm_router_config_env_var_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "c.toml", "default_model = \"gpt-4o\"\n");
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_CONFIG", &config)
        .start()
        .await;
    expect_ok(&server.call("chat", json!({"prompt": "hi"})).await);
    assert_eq!(fake.only_chat_body()["model"], "gpt-4o");
}

#[test]
fn a_bad_config_stops_serve_with_the_key_path_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "c.toml",
        "[routes]\ncode = [\"gpt-4.1\", \"gpt-5x\"]\n",
    );
    let out = cli(&["serve", "--config", &config], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_mentions(
        &stderr,
        &[
            &config,
            "routes.code[1]: unknown model 'gpt-5x' (did you mean gpt-5",
            "[[models]]",
        ],
    );
    assert!(out.stdout.is_empty(), "stdout stays clean");
}

#[test]
fn config_check_reports_typos_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "c.toml",
        "[retry]\nattempts = 2\nbase_delay = 1\n",
    );
    let out = cli(&["config", "check", &config], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_mentions(
        &stderr,
        &["line 3", "unknown field `base_delay`", "base_delay_secs"],
    );
}

#[test]
fn config_example_prints_a_file_that_config_check_accepts() {
    let out = cli(&["config", "example"], &[]);
    assert!(out.status.success());
    let example = String::from_utf8(out.stdout).unwrap();
    assert!(example.contains("[routes]") && example.contains("[retry]"));

    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "example.toml", &example);
    let out = cli(
        &["config", "check", &config],
        &[("AISA_API_KEY", "sk-should-not-be-printed")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_mentions(
        &stdout,
        &[": ok", "claude-haiku-4-5-20251001", "set (AISA_API_KEY)"],
    );
    assert!(!stdout.contains("sk-should-not-be-printed"));
}

#[test]
fn a_missing_default_config_is_fine_but_a_named_one_is_not() {
    let out = cli(
        &["config", "check"],
        &[("XDG_CONFIG_HOME", "/nonexistent-xdg")],
    );
    assert!(out.status.success());
    assert_mentions(
        &String::from_utf8_lossy(&out.stdout),
        &["no config file at /nonexistent-xdg/llm-router/config.toml"],
    );

    let out = cli(
        &["serve"],
        &[("LLM_ROUTER_CONFIG", "/nonexistent-dir/llm-router.toml")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_mentions(
        &String::from_utf8_lossy(&out.stderr),
        &[
            "/nonexistent-dir/llm-router.toml",
            "LLM_ROUTER_CONFIG",
            "cannot read it",
        ],
    );
}

#[tokio::test]
async fn the_first_byte_timeout_comes_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "c.toml",
        "[timeouts]\nfirst_byte_secs = 0.3\n[retry]\nattempts = 1\n",
    );
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .arg("--config")
        .arg(&config)
        .start()
        .await;
    let started = std::time::Instant::now();
    let r = server
        .call("chat", json!({"model": "slow", "prompt": "hi"}))
        .await;
    expect_error(&r, &["timed out after 0.3s", "[timeouts]"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the slow upstream answers after 5 s; the call must end well before"
    );
    assert_eq!(fake.chat_requests().len(), 1, "attempts = 1: no retry");
}
