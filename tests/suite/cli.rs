//! The command line: `chat`, `vision`, `models`, `compare`, `route` and `doctor` run against
//! the fake gateway as a person (tables and text) and as a script (`--json`) would use them,
//! with the exit codes the help promises: 0 ok, 1 the gateway or a model failed, 2 bad usage
//! or configuration.

use std::process::{Output, Stdio};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::fake_upstream::{FakeUpstream, LIVE_MODEL_IDS};
use crate::util::*;

/// One run of `llm-router ARGS`: a clean environment (only PATH kept, HOME a fresh
/// directory), stdin closed unless `stdin` is given.
struct Run {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    stdin: Option<String>,
}

impl Run {
    fn new(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|s| s.to_string()).collect(),
            envs: Vec::new(),
            stdin: None,
        }
    }

    fn upstream(self, fake: &FakeUpstream) -> Self {
        self.env("AISA_BASE_URL", &fake.base_url())
            .env("AISA_API_KEY", KEY)
    }

    fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }

    fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.into());
        self
    }

    async fn output(self) -> Result {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-router"));
        cmd.args(&self.args).env_clear().env("HOME", home.path());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn llm-router");
        if let Some(text) = self.stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).await.unwrap();
            drop(pipe);
        }
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("llm-router did not finish within 60 s")
                .unwrap();
        Result::from(out)
    }
}

/// What a run printed and how it exited.
struct Result {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Result {
    fn from(o: Output) -> Self {
        let r = Result {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        assert!(
            !r.stdout.contains(KEY) && !r.stderr.contains(KEY),
            "the API key leaked:\n{}",
            r.all()
        );
        r
    }
}

impl Result {
    fn all(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{}", self.all());
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.all()))
    }

    /// The table rows on stdout: the lines after the header rule, split on runs of 2+ spaces.
    fn rows(&self) -> Vec<Vec<String>> {
        self.stdout
            .lines()
            .skip_while(|l| !l.trim_start().starts_with('─'))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .map(|l| {
                l.trim()
                    .split("  ")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    }
}

#[tokio::test]
async fn chat_prints_the_answer_on_stdout_and_the_facts_on_stderr() {
    let fake = FakeUpstream::start().await;
    let r = Run::new(&[
        "chat",
        "--model",
        "gpt-4.1",
        "--system",
        "be brief",
        "--message",
        "hello there",
        "--temperature",
        "0.2",
        "--max-tokens",
        "50",
    ])
    .upstream(&fake)
    .output()
    .await;
    r.expect_code(0);
    assert_eq!(r.stdout, "echo: hello there\n", "{}", r.all());
    // 1000 × 1.40/1e6 + 2000 × 5.60/1e6 = 0.0126
    assert_mentions(
        &r.stderr,
        &[
            "gpt-4.1",
            "1000 in + 2000 out tokens",
            "$0.012600 (catalog)",
            " ms",
        ],
    );
    let body = fake.only_chat_body();
    assert_eq!(body["model"], "gpt-4.1");
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}])
    );
    assert_param(&body["temperature"], 0.2);
    assert_eq!(body["max_tokens"], 50);
}

#[tokio::test]
async fn chat_json_is_the_tools_structured_result() {
    let fake = FakeUpstream::start().await;
    let r = Run::new(&["chat", "--message", "hi", "--json"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(0);
    let v = r.json();
    assert_eq!(v["content"], "echo: hi");
    assert_eq!(v["model"], "gpt-4.1-mini", "the default model");
    assert_standard_usage(&v);
    assert_eq!(v["cost_source"], "catalog");
    assert_close(&v["cost_usd"], catalog_cost(0.28, 1.12));
    assert_eq!(v["attempts"][0]["outcome"], "ok");
}

#[tokio::test]
async fn chat_takes_a_conversation_as_json_from_the_flag_a_file_or_stdin() {
    let fake = FakeUpstream::start().await;
    let messages = json!([
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"}
    ]);
    Run::new(&["chat", "--messages", &messages.to_string()])
        .upstream(&fake)
        .output()
        .await
        .expect_code(0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conversation.json");
    std::fs::write(&file, messages.to_string()).unwrap();
    let r = Run::new(&["chat", "--messages", &format!("@{}", file.display())])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(0);
    assert_eq!(r.stdout, "echo: second\n");
    let r = Run::new(&["chat", "--message", "-"])
        .upstream(&fake)
        .stdin("from a pipe\n")
        .output()
        .await;
    r.expect_code(0);
    let chats = fake.chat_requests();
    assert_eq!(chats.len(), 3);
    assert_eq!(chats[0].body["messages"], messages);
    assert_eq!(chats[1].body["messages"], messages);
    assert_eq!(
        chats[2].body["messages"],
        json!([{"role": "user", "content": "from a pipe\n"}])
    );
}

#[tokio::test]
async fn chat_stream_asks_for_a_stream_and_prints_its_text() {
    let fake = FakeUpstream::start().await;
    let r = Run::new(&["chat", "--message", "hi", "--stream"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(0);
    assert_eq!(r.stdout, "echo: hi\n", "{}", r.all());
    assert_eq!(
        fake.only_chat_body()["stream"],
        true,
        "the upstream was asked to stream"
    );
    assert_mentions(&r.stderr, &["1000 in + 2000 out tokens"]);
}

#[tokio::test]
async fn usage_reports_what_the_calls_cost() {
    let fake = FakeUpstream::start().await;
    let home = tempfile::tempdir().unwrap();
    let ledger = home.path().join("usage.db");
    let ledger = ledger.to_str().unwrap();
    for _ in 0..2 {
        Run::new(&["chat", "--model", "gpt-4.1", "--message", "hi"])
            .upstream(&fake)
            .env("LLM_ROUTER_LEDGER_PATH", ledger)
            .output()
            .await
            .expect_code(0);
    }
    let r = Run::new(&["usage", "--since", "1h", "--by", "model", "--json"])
        .upstream(&fake)
        .env("LLM_ROUTER_LEDGER_PATH", ledger)
        .output()
        .await;
    r.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("usage --json is JSON");
    let text = v.to_string();
    // Two calls of 1000 + 2000 tokens at $1.40 / $5.60 per 1M: 2 × 0.0126.
    assert!(text.contains("0.0252"), "{v:#}");
    assert!(text.contains("gpt-4.1"), "{v:#}");
    let r = Run::new(&["usage", "--since", "1h", "--csv"])
        .upstream(&fake)
        .env("LLM_ROUTER_LEDGER_PATH", ledger)
        .output()
        .await;
    r.expect_code(0);
    assert!(
        r.stdout.lines().count() >= 2 && r.stdout.contains(','),
        "{}",
        r.all()
    );
}

#[tokio::test]
async fn a_failure_of_the_gateway_or_model_exits_1() {
    let fake = FakeUpstream::start().await;
    let r = Run::new(&["chat", "--model", "status-402", "--message", "hi"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(1);
    assert_mentions(&r.stderr, &["out of credits", "HTTP 402"]);
    assert!(r.stdout.is_empty(), "{}", r.all());

    let r = Run::new(&["chat", "--model", "status-402", "--message", "hi", "--json"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(1);
    let v = r.json();
    assert_eq!(v["error"]["kind"], "out_of_credits", "{v:#}");
    assert_mentions(v["error"]["message"].as_str().unwrap(), &["HTTP 402"]);

    let port = closed_port();
    let r = Run::new(&["models", "--json"])
        .env("AISA_BASE_URL", &format!("http://127.0.0.1:{port}/v1"))
        .output()
        .await;
    // list_models answers from the catalog when the gateway is down (and says so) …
    r.expect_code(0);
    assert_eq!(r.json()["live"], false);
    // … but a call cannot.
    let r = Run::new(&["chat", "--message", "hi"])
        .env("AISA_BASE_URL", &format!("http://127.0.0.1:{port}/v1"))
        .output()
        .await;
    r.expect_code(1);
    assert_mentions(&r.stderr, &["could not connect"]);
}

#[tokio::test]
async fn bad_usage_or_configuration_exits_2_before_anything_is_sent() {
    let fake = FakeUpstream::start().await;
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["chat", "--message", "hi", "--temperature", "5"],
            &["temperature must be between 0 and 2"],
        ),
        (
            &["chat", "--messages", "[{oops"],
            &["--messages is not valid JSON"],
        ),
        (
            &["chat", "--messages", r#"[{"role": "bot", "content": "x"}]"#],
            &["invalid arguments", "bot"],
        ),
        (&["chat"], &["--message"]),
        (
            &["chat", "--message", "a", "--messages", "[]"],
            &["cannot be used with"],
        ),
        (&["chat", "--mesage", "hi"], &["unexpected argument"]),
        (
            &["compare", "--models", "gpt-4.1", "--message", "hi"],
            &["2 to 10 models"],
        ),
        (
            &["route", "--task", "poetry", "--message", "hi"],
            &["possible values", "code"],
        ),
        (
            &[
                "vision",
                "--image",
                "/no/such/image.png",
                "--prompt",
                "what?",
            ],
            &["--image /no/such/image.png", "cannot open"],
        ),
        (
            &[
                "vision",
                "--model",
                "deepseek-v3.2",
                "--image",
                "https://example.com/a.png",
                "--prompt",
                "?",
            ],
            &["does not accept images"],
        ),
        (
            &[
                "chat",
                "--config",
                "/no/such/config.toml",
                "--message",
                "hi",
            ],
            &["/no/such/config.toml"],
        ),
    ];
    for (args, needles) in cases {
        let r = Run::new(args).upstream(&fake).output().await;
        r.expect_code(2);
        assert_mentions(&r.stderr, needles);
    }
    assert!(
        fake.chat_requests().is_empty(),
        "nothing may be sent: {:#?}",
        fake.chat_requests()
    );

    // No key for the AIsa gateway: a configuration problem, found before any request.
    let r = Run::new(&["chat", "--message", "hi", "--json"])
        .output()
        .await;
    r.expect_code(2);
    assert_eq!(r.json()["error"]["kind"], "missing_api_key");
    assert_mentions(&r.stderr, &["AISA_API_KEY"]);
}

#[tokio::test]
async fn models_prints_a_table_filtered_and_sorted() {
    let fake = FakeUpstream::start().await;
    let r = Run::new(&["models", "--capability", "vision", "--sort", "price"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(0);
    let header = r.stdout.lines().next().unwrap_or_default();
    for column in [
        "id",
        "provider",
        "family",
        "in $/1M",
        "out $/1M",
        "context",
        "capabilities",
        "live",
    ] {
        assert!(header.contains(column), "{}", r.all());
    }
    let rows = r.rows();
    assert!(rows.len() >= 5, "{}", r.all());
    let prices: Vec<f64> = rows.iter().map(|row| row[3].parse().unwrap()).collect();
    assert!(
        prices.windows(2).all(|w| w[0] <= w[1]),
        "{prices:?}\n{}",
        r.all()
    );
    for row in &rows {
        assert_eq!(row[1], "aisa", "{row:?}");
        assert!(row[6].contains("vision"), "{row:?}");
        let live = LIVE_MODEL_IDS.contains(&row[0].as_str());
        assert_eq!(row[7], if live { "yes" } else { "no" }, "{row:?}");
    }
    // The cheapest vision model is first, priced as AIsa bills it.
    assert_eq!(rows[0][0], "gemini-2.5-flash-lite", "{}", r.all());
    assert_eq!((rows[0][3].as_str(), rows[0][4].as_str()), ("0.07", "0.28"));
    assert_mentions(&r.stderr, &["models", "live list from"]);

    let r = Run::new(&["models", "--family", "anthropic", "--json"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(0);
    let v = r.json();
    assert_eq!(v["live"], true);
    let models = v["models"].as_array().unwrap();
    assert!(!models.is_empty());
    assert!(models.iter().all(|m| m["family"] == "anthropic"), "{v:#}");
}

#[tokio::test]
async fn compare_prints_a_table_then_every_answer() {
    let fake = FakeUpstream::start().await;
    let r = Run::new(&[
        "compare",
        "--models",
        "gpt-4.1,gpt-4.1-mini,status-402",
        "--message",
        "which is best?",
    ])
    .upstream(&fake)
    .output()
    .await;
    r.expect_code(0);
    let header = r.stdout.lines().next().unwrap_or_default();
    for column in ["model", "latency", "tokens in/out", "cost", "answer"] {
        assert!(header.contains(column), "{}", r.all());
    }
    let rows = r.rows();
    assert_eq!(rows.len(), 3, "{}", r.all());
    assert_eq!(rows[0][0], "gpt-4.1");
    assert!(rows[0][1].ends_with(" ms"));
    assert_eq!(rows[0][2], "1000/2000");
    assert_eq!(rows[0][3], "$0.012600");
    assert_eq!(rows[0][4], "echo: which is best?");
    assert_eq!(rows[1][3], "$0.002520");
    assert_eq!(rows[2][0], "status-402");
    assert!(rows[2][4].starts_with("failed:"), "{:?}", rows[2]);
    assert_mentions(
        &r.stdout,
        &[
            "cheapest: gpt-4.1-mini",
            "total $0.015120",
            "## gpt-4.1\necho: which is best?",
            "## gpt-4.1-mini\necho: which is best?",
            "## status-402\n(failed)",
        ],
    );

    let r = Run::new(&[
        "compare",
        "--models",
        "gpt-4.1,gpt-4o-mini",
        "--message",
        "hi",
        "--json",
    ])
    .upstream(&fake)
    .output()
    .await;
    r.expect_code(0);
    let v = r.json();
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    assert_eq!(v["summary"]["cheapest"], "gpt-4o-mini");

    // Every model failed: exit 1.
    let r = Run::new(&[
        "compare",
        "--models",
        "status-402,missing-a",
        "--message",
        "hi",
    ])
    .upstream(&fake)
    .output()
    .await;
    r.expect_code(1);
}

#[tokio::test]
async fn route_dry_run_explains_without_calling_and_route_calls_the_choice() {
    let fake = FakeUpstream::start().await;
    let r = Run::new(&["route", "--task", "cheap", "--message", "hi", "--dry-run"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(0);
    assert_mentions(
        &r.stdout,
        &[
            "Task cheap (given). Chose gemini-2.5-flash-lite",
            "fallbacks: deepseek-v3.2 → gpt-4o-mini",
            "dry run",
        ],
    );
    assert!(fake.chat_requests().is_empty());

    let r = Run::new(&["route", "--task", "cheap", "--message", "hi", "--json"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(0);
    let v = r.json();
    assert_eq!(v["chosen_model"], "gemini-2.5-flash-lite");
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["content"], "echo: hi");
    assert_eq!(fake.only_chat_body()["model"], "gemini-2.5-flash-lite");

    let r = Run::new(&["route", "--task", "code", "--message", "hi"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(0);
    assert_eq!(r.stdout, "echo: hi\n");
    assert_mentions(
        &r.stderr,
        &[
            "Task code (given). Chose claude-sonnet-4-5-20250929",
            "$0.033000 (catalog)",
        ],
    );
}

#[tokio::test]
async fn vision_reads_a_local_file_named_on_the_command_line() {
    let fake = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("dot.png");
    std::fs::write(&image, TINY_PNG).unwrap();
    let r = Run::new(&[
        "vision",
        "--image",
        image.to_str().unwrap(),
        "--image",
        "https://example.com/cat.jpg",
        "--prompt",
        "describe",
    ])
    .upstream(&fake)
    .output()
    .await;
    r.expect_code(0);
    assert_eq!(r.stdout, "echo: describe\n", "{}", r.all());
    let body = fake.only_chat_body();
    let parts = body["messages"][0]["content"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    let url = parts[1]["image_url"]["url"].as_str().unwrap();
    assert!(url.starts_with("data:image/png;base64,"), "{url}");
    assert_eq!(parts[2]["image_url"]["url"], "https://example.com/cat.jpg");
}

#[tokio::test]
async fn doctor_checks_a_working_setup() {
    let fake = FakeUpstream::start().await;
    let r = Run::new(&["doctor"]).upstream(&fake).output().await;
    r.expect_code(0);
    let line = |name: &str| {
        r.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no {name} line:\n{}", r.all()))
            .to_owned()
    };
    assert!(line("config").starts_with('✓'));
    assert!(line("key").starts_with('✓'));
    assert!(line("gateway").starts_with('✓') && line("gateway").contains(&fake.base_url()));
    let models = line("models");
    assert!(models.starts_with('✓'), "{models}");
    assert!(
        models.contains(&format!("{} listed", LIVE_MODEL_IDS.len())),
        "{models}"
    );
    assert!(line("balance").starts_with('✓'), "{}", r.all());
    assert!(
        line("balance").contains("$12.00 USD available"),
        "{}",
        r.all()
    );
    assert!(line("ledger").starts_with('✓'), "{}", r.all());
    assert!(line("ledger").contains("usage.db"), "{}", r.all());
    assert!(r.stdout.contains("all checks passed"));
    assert!(
        fake.requests()
            .iter()
            .any(|q| q.path == "/v1/credits/balance"),
        "doctor must ask for the balance"
    );

    let r = Run::new(&["doctor", "--json"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(0);
    let v = r.json();
    assert_eq!(v["ok"], true);
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["config", "key", "gateway", "models", "balance", "ledger"]
    );
}

/// A gateway that offers `GET /credits/balance` (with the key) as AIsa documents it.
async fn gateway_with_balance() -> (String, tokio::task::JoinHandle<()>) {
    let authorized = |h: &HeaderMap| {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}"))
    };
    let app = Router::new()
        .route(
            "/v1/models",
            get(move |h: HeaderMap| async move {
                assert!(authorized(&h));
                axum::Json(json!({"data": [{"id": "gpt-4.1"}]}))
            }),
        )
        .route(
            "/v1/credits/balance",
            get(move |h: HeaderMap| async move {
                if !authorized(&h) {
                    return axum::Json(json!({"error": "no key"}));
                }
                axum::Json(json!({
                    "currency": "USD",
                    "account_balance_micros_usd": 20_000_000,
                    "available_balance_micros_usd": 12_500_000,
                    "api_key": {"unlimited": false, "remaining_micros_usd": 3_000_000,
                                "used_micros_usd": 1_000_000},
                    "as_of": "2026-11-21T08:00:00Z"
                }))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/v1"), task)
}

#[tokio::test]
async fn doctor_reports_the_balance_when_the_gateway_offers_it() {
    let (base_url, task) = gateway_with_balance().await;
    let r = Run::new(&["doctor"])
        .env("AISA_BASE_URL", &base_url)
        .env("AISA_API_KEY", KEY)
        .output()
        .await;
    task.abort();
    r.expect_code(0);
    assert_mentions(
        &r.stdout,
        &[
            "✓ balance",
            "$12.50 USD available",
            "this key may spend $3.00 more",
        ],
    );
}

#[tokio::test]
async fn doctor_says_what_to_fix_and_exits_1_or_2() {
    let port = closed_port();
    let r = Run::new(&["doctor"])
        .env("AISA_BASE_URL", &format!("http://127.0.0.1:{port}/v1"))
        .env("AISA_API_KEY", KEY)
        .output()
        .await;
    r.expect_code(1);
    assert_mentions(
        &r.stdout,
        &[
            "✗ gateway",
            "could not connect",
            "fix: set AISA_BASE_URL",
            "1 check failed",
        ],
    );

    let fake = FakeUpstream::start_expecting_key("another-key").await;
    let r = Run::new(&["doctor", "--json"])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(2);
    let v = r.json();
    let key = &v["checks"][1];
    assert_eq!(key["status"], "fail", "{v:#}");
    assert_mentions(key["detail"].as_str().unwrap(), &["rejected", "HTTP 401"]);
    assert!(key["fix"].as_str().unwrap().contains("AISA_API_KEY"));

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[retry]\nattempts = 0\n").unwrap();
    let fake = FakeUpstream::start().await;
    let r = Run::new(&["doctor", "--config", config.to_str().unwrap()])
        .upstream(&fake)
        .output()
        .await;
    r.expect_code(2);
    assert_mentions(
        &r.stdout,
        &["✗ config", "retry.attempts", "fix:", "✓ gateway"],
    );
}

/// The spinner appears on a terminal while a call takes a while (the fake's `slow` model
/// answers after 5 s), and never when stderr is a pipe. `script` gives the child a terminal.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_spinner_shows_on_a_terminal_and_never_in_a_pipe() {
    let fake = FakeUpstream::start().await;
    let command = format!(
        "'{}' chat --model slow --message hi",
        env!("CARGO_BIN_EXE_llm-router")
    );
    let home = tempfile::tempdir().unwrap();
    let mut on_terminal = tokio::process::Command::new("script");
    on_terminal
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TERM", "xterm")
        .env("AISA_BASE_URL", fake.base_url())
        .env("AISA_API_KEY", KEY)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let in_pipe = Run::new(&["chat", "--model", "slow", "--message", "hi"])
        .upstream(&fake)
        .output();
    let (tty, pipe) = tokio::join!(on_terminal.output(), in_pipe);
    let tty = tty.expect("`script` (util-linux) runs the command on a terminal");
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{screen}");
    assert!(
        screen.contains("asking"),
        "no spinner on a terminal:\n{screen}"
    );
    assert!(screen.contains("echo: hi"), "{screen}");

    pipe.expect_code(0);
    assert_eq!(pipe.stdout, "echo: hi\n");
    assert!(
        !pipe.stderr.contains("asking") && !pipe.stderr.contains('\r'),
        "a spinner in a pipe:\n{}",
        pipe.all()
    );
}

#[tokio::test]
async fn config_check_and_path_speak_json_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "default_model = \"gpt-4o\"\n").unwrap();
    let path = config.to_str().unwrap();
    let r = Run::new(&["config", "check", path, "--json"])
        .env("AISA_API_KEY", KEY)
        .output()
        .await;
    r.expect_code(0);
    let v = r.json();
    assert_eq!(v["file"], path);
    assert_eq!(v["default_model"], "gpt-4o");
    assert_eq!(v["api_key_set"], true);

    let r = Run::new(&["config", "path", "--json"])
        .env("LLM_ROUTER_CONFIG", path)
        .output()
        .await;
    r.expect_code(0);
    assert_eq!(
        r.json(),
        json!({"path": path, "origin": "LLM_ROUTER_CONFIG", "exists": true})
    );

    std::fs::write(&config, "default_model = \"gpt-5x\"\n").unwrap();
    let r = Run::new(&["config", "check", path, "--json"])
        .output()
        .await;
    r.expect_code(2);
    let v = r.json();
    assert_eq!(v["error"]["kind"], "config");
    assert_mentions(
        v["error"]["message"].as_str().unwrap(),
        &["default_model", "gpt-5x"],
    );
}

/// Ctrl-C during a call cancels it at once (the upstream request is dropped, not awaited)
/// and exits 130.
#[cfg(unix)]
#[tokio::test]
async fn an_interrupted_call_stops_at_once_with_exit_code_130() {
    let fake = FakeUpstream::start().await;
    let home = tempfile::tempdir().unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-router"))
        .args(["chat", "--model", "slow", "--message", "hi"])
        .env_clear()
        .env("HOME", home.path())
        .env("AISA_BASE_URL", fake.base_url())
        .env("AISA_API_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Wait (bounded) until the request is at the fake, which holds `slow` for 5 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while fake.chat_requests().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let started = std::time::Instant::now();
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("exits after Ctrl-C")
        .unwrap();
    let r = Result::from(out);
    r.expect_code(130);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "it waited for the slow answer: {:?}",
        started.elapsed()
    );
    assert_mentions(&r.stderr, &["cancel"]);
    assert!(r.stdout.is_empty());
}
