//! Several providers side by side: the AIsa gateway plus a second OpenAI-style upstream (a
//! stand-in for a local Ollama or vLLM) declared in the config file. Every tool reaches both,
//! results say which provider answered, route chains and fallbacks cross providers, and each
//! provider's key comes from its own variable and never shows.

use serde_json::{Value, json};

use crate::fake_upstream::FakeUpstream;
use crate::util::{ServerBuilder, assert_mentions, expect_error, expect_ok, text};

/// The local provider's key (a fake, recognizable one).
const LOCAL_KEY: &str = "local-secret-4e1d7c";

/// A config with a `local` provider at `local`: `llama3.2:3b` priced at 0, anything matching
/// `qwen*` served there too, and a code route that starts local and falls back to the gateway.
fn config(local: &FakeUpstream, extra: &str) -> String {
    format!(
        r#"
[retry]
attempts = 1

[[providers]]
name = "local"
base_url = "{}"
api_key_env = "LOCAL_TEST_KEY"
models = ["qwen*"]

[[models]]
id = "llama3.2:3b"
provider = "local"
family = "meta"
vision = true
context_window = 131072
input_price = 0
output_price = 0
price_source = "local model"

[routes]
code = ["llama3.2:3b", "gpt-4.1"]
{extra}
"#,
        local.base_url()
    )
}

struct Setup {
    gateway: FakeUpstream,
    local: FakeUpstream,
    server: crate::util::Server,
    _dir: tempfile::TempDir,
}

async fn start(extra: &str, local_key_env: Option<&str>) -> Setup {
    let gateway = FakeUpstream::start().await;
    let local = FakeUpstream::start_expecting_key(LOCAL_KEY).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config(&local, extra)).unwrap();
    let mut builder = ServerBuilder::new()
        .upstream(&gateway)
        .env("LLM_ROUTER_CONFIG", path.display().to_string())
        .env("RUST_LOG", "trace");
    if let Some(key) = local_key_env {
        builder = builder.env("LOCAL_TEST_KEY", key);
    }
    Setup {
        server: builder.start().await,
        gateway,
        local,
        _dir: dir,
    }
}

fn models_sent(fake: &FakeUpstream) -> Vec<String> {
    fake.chat_requests()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn chat_goes_to_the_provider_that_serves_the_model_and_says_which() {
    let s = start("", Some(LOCAL_KEY)).await;
    let local = expect_ok(
        &s.server
            .call("chat", json!({"model": "llama3.2:3b", "prompt": "hi"}))
            .await,
    );
    assert_eq!(local["provider"], "local");
    assert_eq!(local["cost_usd"], json!(0.0), "priced 0 in config: {local}");
    assert_eq!(local["cost_source"], "catalog");
    let globbed = expect_ok(
        &s.server
            .call("chat", json!({"model": "qwen2.5-coder:7b", "prompt": "hi"}))
            .await,
    );
    assert_eq!(globbed["provider"], "local");
    let remote = expect_ok(
        &s.server
            .call("chat", json!({"model": "gpt-4.1", "prompt": "hi"}))
            .await,
    );
    assert_eq!(remote["provider"], "aisa");
    assert_eq!(remote["cost_source"], "catalog");
    // provider/model addresses a provider explicitly, whatever would serve the bare id.
    let addressed = expect_ok(
        &s.server
            .call("chat", json!({"model": "local/gpt-4.1", "prompt": "hi"}))
            .await,
    );
    assert_eq!(addressed["provider"], "local");
    assert_eq!(addressed["cost_source"], "catalog", "priced as gpt-4.1");
    // Aliases resolve behind a provider prefix too.
    let aliased = expect_ok(
        &s.server
            .call(
                "chat",
                json!({"model": "local/claude-sonnet", "prompt": "hi"}),
            )
            .await,
    );
    assert_eq!(
        aliased["requested_model"],
        "local/claude-sonnet-4-5-20250929"
    );
    assert_eq!(
        models_sent(&s.local),
        [
            "llama3.2:3b",
            "qwen2.5-coder:7b",
            "gpt-4.1",
            "claude-sonnet-4-5-20250929"
        ]
    );
    assert_eq!(models_sent(&s.gateway), ["gpt-4.1"]);
    for r in s.local.chat_requests() {
        assert_eq!(r.authorization(), Some(&*format!("Bearer {LOCAL_KEY}")));
    }
    // The ledger knows where each call went.
    let usage = expect_ok(
        &s.server
            .call("usage", json!({"since": "today", "by": "provider"}))
            .await,
    );
    let groups: Vec<(String, u64)> = usage["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("{usage}"))
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_owned(),
                g["calls"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(groups.contains(&("local".into(), 4)), "{usage}");
    assert!(groups.contains(&("aisa".into(), 1)), "{usage}");
    let log = s.server.shutdown().await;
    assert!(!log.contains(LOCAL_KEY), "the local key was logged");
}

#[tokio::test]
async fn vision_compare_and_route_by_task_reach_both_providers() {
    let s = start("", Some(LOCAL_KEY)).await;
    let png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==";
    let v = expect_ok(
        &s.server
            .call(
                "vision",
                json!({"model": "llama3.2:3b", "images": [png], "prompt": "what is it?"}),
            )
            .await,
    );
    assert_eq!(v["provider"], "local");

    let c = expect_ok(
        &s.server
            .call(
                "compare_models",
                json!({"models": ["gpt-4.1", "llama3.2:3b"], "prompt": "hi"}),
            )
            .await,
    );
    let providers: Vec<&str> = c["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["provider"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(providers, ["aisa", "local"], "{c}");

    let r = expect_ok(
        &s.server
            .call(
                "route_by_task",
                json!({"task": "code", "prompt": "write a function"}),
            )
            .await,
    );
    assert_eq!(r["provider"], "local", "{r}");
    assert_eq!(r["requested_model"], "llama3.2:3b", "{r}");
    s.server.shutdown().await;
}

#[tokio::test]
async fn a_fallback_chain_crosses_from_a_failing_provider_to_the_gateway() {
    let s = start("", Some(LOCAL_KEY)).await;
    let r = expect_ok(
        &s.server
            .call(
                "chat",
                json!({"model": "local/status-503", "fallback_models": ["gpt-4.1"], "prompt": "hi"}),
            )
            .await,
    );
    assert_eq!(r["provider"], "aisa");
    let attempts: Vec<(String, String)> = r["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["model"].as_str().unwrap().to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(attempts[0].0, "local/status-503");
    assert_ne!(attempts[0].1, "ok");
    assert_eq!(attempts.last().unwrap(), &("gpt-4.1".into(), "ok".into()));
    assert_eq!(models_sent(&s.local), ["status-503"]);
    assert_eq!(models_sent(&s.gateway), ["gpt-4.1"]);
    s.server.shutdown().await;
}

#[tokio::test]
async fn list_models_shows_each_models_provider() {
    let s = start("", Some(LOCAL_KEY)).await;
    let out = expect_ok(&s.server.call("list_models", json!({})).await);
    let rows = out["models"].as_array().unwrap();
    let provider_of = |id: &str| -> Option<String> {
        rows.iter()
            .find(|r| r["id"] == id)
            .map(|r| r["provider"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(provider_of("llama3.2:3b").as_deref(), Some("local"));
    assert_eq!(provider_of("gpt-4.1").as_deref(), Some("aisa"));
    // The local server lists ids the gateway also serves: those are reachable as local/<id>.
    assert_eq!(provider_of("local/kimi-k2").as_deref(), Some("local"));
    assert_eq!(provider_of("kimi-k2").as_deref(), Some("aisa"));
    assert_eq!(out["live"], json!(true));
    let note = out["note"].as_str().unwrap();
    assert_mentions(note, &["aisa: live list", "local: live list"]);
    s.server.shutdown().await;
}

#[tokio::test]
async fn a_discovering_provider_serves_whatever_its_model_list_has() {
    let gateway = FakeUpstream::start().await;
    let local = FakeUpstream::start_expecting_key(LOCAL_KEY).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let config = format!(
        "[[providers]]\nname = \"local\"\nbase_url = \"{}\"\napi_key_env = \"LOCAL_TEST_KEY\"\ndiscover = true\n",
        local.base_url()
    );
    std::fs::write(&path, config).unwrap();
    let server = ServerBuilder::new()
        .upstream(&gateway)
        .env("LLM_ROUTER_CONFIG", path.display().to_string())
        .env("LOCAL_TEST_KEY", LOCAL_KEY)
        .start()
        .await;
    // kimi-k2 is in the local list: the first call fetches it, then goes there.
    let r = expect_ok(
        &server
            .call("chat", json!({"model": "kimi-k2", "prompt": "hi"}))
            .await,
    );
    assert_eq!(r["provider"], "local");
    // Not in its list: the gateway.
    let r = expect_ok(
        &server
            .call("chat", json!({"model": "gpt-5", "prompt": "hi"}))
            .await,
    );
    assert_eq!(r["provider"], "aisa");
    assert_eq!(local.models_requests().len(), 1, "the list is fetched once");
    server.shutdown().await;
}

#[tokio::test]
async fn a_providers_key_problems_name_its_variable_and_never_show_the_key() {
    let wrong = start("", Some("local-wrong-9a8b7c")).await;
    let r = wrong
        .server
        .call("chat", json!({"model": "llama3.2:3b", "prompt": "hi"}))
        .await;
    let t = expect_error(
        &r,
        &["provider 'local'", "rejected the API key", "LOCAL_TEST_KEY"],
    );
    assert!(!t.contains("local-wrong-9a8b7c"), "{t}");
    let log = wrong.server.shutdown().await;
    assert!(!log.contains("local-wrong-9a8b7c"), "the key was logged");

    let missing = start("", None).await;
    let r = missing
        .server
        .call("chat", json!({"model": "llama3.2:3b", "prompt": "hi"}))
        .await;
    expect_error(
        &r,
        &["provider 'local' needs a key", "LOCAL_TEST_KEY is not set"],
    );
    assert!(missing.local.chat_requests().is_empty(), "nothing was sent");
    // The gateway still works.
    expect_ok(
        &missing
            .server
            .call("chat", json!({"model": "gpt-4.1", "prompt": "hi"}))
            .await,
    );
    missing.server.shutdown().await;
}

/// `llm-router config check` on `text`: its exit status and everything it printed.
fn config_check(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_llm-router"))
        .args(["config", "check", "--config"])
        .arg(&path)
        .env_clear()
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), all)
}

#[test]
fn bad_provider_entries_are_refused_naming_the_key() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[[providers]]\nname = \"x\"\nbase_url = \"http://127.0.0.1:1/v1\"\nstyle = \"cobol\"\n",
            &["providers[0].style", "unknown API style 'cobol'", "openai"],
        ),
        (
            "[[providers]]\nname = \"aisa\"\nbase_url = \"http://127.0.0.1:1/v1\"\n",
            &["providers[0].name", "built-in gateway"],
        ),
        (
            "[[providers]]\nname = \"a/b\"\nbase_url = \"http://127.0.0.1:1/v1\"\n",
            &["providers[0].name", "not a provider name"],
        ),
        (
            "[[providers]]\nname = \"x\"\nbase_url = \"ftp://h/v1\"\n",
            &["providers[0].base_url", "http://"],
        ),
        (
            "[[providers]]\nname = \"x\"\nbase_url = \"http://h/v1\"\napi_key_env = \"sk-live-123456\"\n",
            &["providers[0].api_key_env", "looks like a key"],
        ),
        (
            "[[providers]]\nname = \"x\"\nbase_url = \"http://h/v1\"\nauth = \"basic\"\n",
            &["providers[0].auth", "unknown auth 'basic'"],
        ),
        (
            "[[providers]]\nname = \"x\"\nbase_url = \"http://h/v1\"\n[[providers]]\nname = \"x\"\nbase_url = \"http://h/v1\"\n",
            &["providers[1].name", "defined twice"],
        ),
        (
            "[[models]]\nid = \"m\"\nprovider = \"nowhere\"\ninput_price = 0\noutput_price = 0\n",
            &["models[0].provider", "unknown provider 'nowhere'", "aisa"],
        ),
        (
            "[[providers]]\nname = \"x\"\nbase_url = \"http://h/v1\"\ntimeout_secs = -1\n",
            &["providers[0].timeout_secs"],
        ),
    ];
    for (text, needles) in cases {
        let (ok, out) = config_check(text);
        assert!(!ok, "accepted:\n{text}\n{out}");
        assert_mentions(&out, needles);
    }
    // Routes may name provider-served models without catalog entries.
    let (ok, out) = config_check(
        "[[providers]]\nname = \"x\"\nbase_url = \"http://h/v1\"\nmodels = [\"house-*\"]\n\
         [routes]\ncode = [\"house-coder\", \"x/anything\", \"gpt-4.1\"]\n",
    );
    assert!(ok, "{out}");
    let (ok, out) = config_check("[routes]\ncode = [\"house-coder\"]\n");
    assert!(!ok);
    assert_mentions(&out, &["routes.code[0]", "unknown model 'house-coder'"]);
}

#[tokio::test]
async fn an_unknown_api_style_on_chat_lists_the_styles() {
    let s = start("", Some(LOCAL_KEY)).await;
    let r = s
        .server
        .call(
            "chat",
            json!({"model": "gpt-4.1", "api": "soap", "prompt": "hi"}),
        )
        .await;
    let t = text(&r);
    assert_mentions(&t, &["api", "unknown API style 'soap'", "openai"]);
    let v: Value = json!(s.gateway.chat_requests().len());
    assert_eq!(v, json!(0));
    s.server.shutdown().await;
}

/// `llm-router doctor --json` with the two-provider config; the checks as JSON.
async fn doctor(local: &FakeUpstream, gateway: &FakeUpstream, local_key: Option<&str>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config(local, "")).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-router"));
    cmd.args(["doctor", "--json", "--config"])
        .arg(&path)
        .env_clear()
        .env("HOME", dir.path())
        .env("AISA_BASE_URL", gateway.base_url())
        .env("AISA_API_KEY", crate::util::KEY);
    if let Some(k) = local_key {
        cmd.env("LOCAL_TEST_KEY", k);
    }
    let out = tokio::time::timeout(crate::http::DEADLINE, cmd.output())
        .await
        .expect("doctor finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains(LOCAL_KEY), "{stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn provider_check(report: &Value) -> Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "provider")
        .cloned()
        .unwrap_or_else(|| panic!("no provider line: {report}"))
}

#[tokio::test]
async fn doctor_checks_every_provider() {
    let gateway = FakeUpstream::start().await;
    let local = FakeUpstream::start_expecting_key(LOCAL_KEY).await;
    let ok = doctor(&local, &gateway, Some(LOCAL_KEY)).await;
    let line = provider_check(&ok);
    assert_eq!(line["status"], "ok", "{ok}");
    assert_mentions(
        line["detail"].as_str().unwrap(),
        &["local (openai)", &local.base_url(), "models listed"],
    );
    let missing = doctor(&local, &gateway, None).await;
    let line = provider_check(&missing);
    assert_eq!(missing["ok"], json!(false));
    assert_mentions(
        &line.to_string(),
        &["local", "LOCAL_TEST_KEY is not set", "api_key_env"],
    );
}

#[test]
fn the_readme_provider_example_passes_config_check() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("# AIsa (from AISA_API_KEY) + a local Ollama")
        .expect("the README has the provider example");
    let block = &readme[start..];
    let block = &block[..block.find("```").expect("the example's code block ends")];
    let (ok, out) = config_check(block);
    assert!(ok, "{out}\n--- example ---\n{block}");
    assert_mentions(&out, &["local"]);
}
