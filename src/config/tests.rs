//! Tests of [`super`]: checking the environment and the config file into a Config.

use super::*;
use rust_decimal::Decimal;

#[test]
fn defaults_point_at_the_aisa_gateway() {
    let c = RawConfig::default().check().unwrap();
    assert_eq!(c.base_url.as_str(), "https://api.aisa.one/v1");
    assert!(c.is_default_gateway);
    assert!(c.api_key.is_none());
    assert_eq!(c.timeout, Duration::from_secs(120));
}

#[test]
fn bad_values_name_the_variable() {
    let e = RawConfig {
        base_url: Some("not a url".into()),
        ..Default::default()
    }
    .check()
    .unwrap_err();
    assert!(
        e.to_string().starts_with("AISA_BASE_URL: 'not a url'"),
        "{e}"
    );

    let e = RawConfig {
        timeout_secs: Some("-3".into()),
        ..Default::default()
    }
    .check()
    .unwrap_err();
    assert!(
        e.to_string().starts_with("LLM_ROUTER_TIMEOUT_SECS: '-3'"),
        "{e}"
    );

    let e = RawConfig {
        allowed_dirs: vec!["/definitely/not/here".into()],
        ..Default::default()
    }
    .check()
    .unwrap_err();
    assert!(e.to_string().contains("/definitely/not/here"), "{e}");
}

#[test]
fn trailing_slash_and_fractional_timeout_are_accepted() {
    let c = RawConfig {
        base_url: Some("http://127.0.0.1:11434/v1/".into()),
        timeout_secs: Some("0.5".into()),
        ..Default::default()
    }
    .check()
    .unwrap();
    assert_eq!(c.base_url.as_str(), "http://127.0.0.1:11434/v1");
    assert!(!c.is_default_gateway);
    assert_eq!(c.timeout, Duration::from_millis(500));
}

#[test]
fn the_key_is_redacted_in_debug_output() {
    let c = RawConfig {
        api_key: Some("sk-very-secret".into()),
        ..Default::default()
    }
    .check()
    .unwrap();
    assert!(!format!("{c:?}").contains("sk-very-secret"));
}
fn with_file(text: &str) -> Result<Config, ConfigError> {
    let raw = file::parse(text).map_err(|m| config_error("(parse)", m))?;
    RawConfig {
        file: Some((Location::Flag("/etc/llm-router/test.toml".into()), raw)),
        ..Default::default()
    }
    .check()
}

fn err(text: &str) -> String {
    with_file(text).unwrap_err().to_string()
}

#[test]
fn the_examples_commented_providers_are_valid_once_uncommented() {
    let start = file::EXAMPLE
        .find("# --- providers example ---")
        .expect("the example has a providers block");
    let end = file::EXAMPLE
        .find("# --- end providers example ---")
        .expect("the block ends");
    let block: String = file::EXAMPLE[start..end]
        .lines()
        .skip(1)
        .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
        .collect::<Vec<_>>()
        .join("\n");
    let c = with_file(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
    let names: Vec<(&str, &str)> = c
        .providers
        .iter()
        .map(|(p, _)| (p.name.as_str(), p.style.name()))
        .collect();
    assert_eq!(names, [("local", "openai"), ("google", "gemini")]);
    let (google, serves) = &c.providers[1];
    assert_eq!(google.auth, crate::upstream::style::Auth::XGoogApiKey);
    assert!(serves.discover && google.key_required);
    let (local, serves) = &c.providers[0];
    assert!(!local.key_required);
    assert!(
        serves.ids.contains(&"llama3.2:3b".to_owned()),
        "from [[models]] provider"
    );
    assert_eq!(local.timeout, Duration::from_secs(300));
}

#[test]
fn the_example_config_is_valid_and_applied() {
    let c = with_file(file::EXAMPLE).unwrap();
    let code = c.catalog.task_route(crate::routing::Task::Code).unwrap();
    assert_eq!(
        code.models,
        ["claude-sonnet-4-5-20250929", "gpt-4.1", "deepseek-v3.2"]
    );
    assert_eq!(c.catalog.resolve("sonnet").id, "claude-sonnet-4-5-20250929");
    let kimi = c.catalog.get("kimi-k2").unwrap();
    assert_eq!(kimi.price.unwrap().input, Decimal::new(60, 2));
    assert_eq!(kimi.price_source.as_deref(), Some("my contract, 2026-11"));
    let gpt = c.catalog.get("gpt-4.1").unwrap();
    assert_eq!(gpt.price.unwrap().input, Decimal::new(120, 2));
    assert_eq!(gpt.price.unwrap().output, Decimal::new(560, 2), "untouched");
    assert_eq!(gpt.context_window, Some(1_047_576), "untouched");
    assert_eq!(
        c.default_fallbacks,
        ["claude-haiku-4-5-20251001", "gemini-2.5-flash"]
    );
    assert_eq!(c.first_byte_timeout, Duration::from_secs(60));
    assert_eq!(c.http.max_sessions, 1000);
    assert_eq!(c.retry, RetryConfig::default());
    assert_eq!(c.budget.daily_usd, Some(Decimal::from(5)));
    assert_eq!(c.budget.monthly_usd, Some(Decimal::from(50)));
    assert_eq!(c.budget.per_call_max_usd, Some(Decimal::new(5, 1)));
    assert_eq!(c.budget.session_usd, None);
    assert_eq!(c.cache.max_entries, 256);
    assert!(c.ledger.path.is_some() || std::env::var_os("HOME").is_none());
}

#[test]
fn unknown_models_name_the_key_path_and_suggest() {
    let e = err("[routes]\ncode = [\"gpt-4.1\", \"gpt-5x\"]\n");
    assert!(
        e.starts_with(
            "/etc/llm-router/test.toml: routes.code[1]: unknown model 'gpt-5x' (did you mean gpt-5"
        ),
        "{e}"
    );
    assert!(err("default_model = \"nope-model\"").contains("default_model: unknown model"));
    assert!(
        err("fallback_models = [\"\"]").contains("fallback_models[0]: the model name is empty")
    );
    assert!(err("[aliases]\nfast = \"gpt-9\"").contains("aliases.fast: unknown model 'gpt-9'"));
    assert!(err("[aliases]\n\"gpt-4.1\" = \"gpt-4o\"").contains("is a model id"));
    assert!(err("[routes]\ncode = []").contains("routes.code: the chain is empty"));
    assert!(err("[routes]\ncheap = [\"gpt-4o-mini\"]").contains("routes.cheap: the cheap task"));
    assert!(err("default_vision_model = \"deepseek-v3.2\"").contains("does not accept images"));
}

#[test]
fn declared_models_can_be_routed_to() {
    let c = with_file(
        "[[models]]\nid = \"llama3.2\"\ninput_price = 0\noutput_price = 0\n\
         [routes]\nfast = [\"llama3.2\", \"gpt-4.1-mini\"]\n",
    )
    .unwrap();
    let m = c.catalog.get("llama3.2").unwrap();
    assert_eq!(m.family, "custom");
    assert_eq!(m.price.unwrap().output, Decimal::ZERO);
    assert_eq!(m.price_source.as_deref(), Some("config"));
    assert!(err("[[models]]\nid = \"x\"\ninput_price = 1\n").contains("give both"));
    assert!(
        err("[[models]]\nid = \"x\"\ninput_price = -1\noutput_price = 1\n")
            .contains("models[0].input_price: -1 is negative")
    );
}

#[test]
fn out_of_range_numbers_name_the_key() {
    assert!(err("[retry]\nattempts = 0").contains("retry.attempts: 0 is out of range"));
    assert!(err("[retry]\njitter = 2.0").contains("retry.jitter: 2 is not a fraction"));
    assert!(
        err("[retry]\nbase_delay_secs = 5\nmax_delay_secs = 1").contains("retry.max_delay_secs")
    );
    assert!(err("[timeouts]\ntotal_secs = -1").contains("timeouts.total_secs: -1"));
    assert!(err("[http]\naddr = \"localhost\"").contains("http.addr: 'localhost'"));
    assert!(err("[http]\nmax_sessions = 0").contains("http.max_sessions"));
    assert!(err("[vision]\nallowed_dirs = [\"/no/such/dir\"]").contains("vision.allowed_dirs"));
}

#[test]
fn the_key_is_never_read_from_the_file() {
    let e = err("api_key = \"sk-in-a-file\"");
    assert!(
        e.contains("api_key: the API key is never read from the config file"),
        "{e}"
    );
    assert!(!e.contains("sk-in-a-file"));
}

#[test]
fn environment_variables_win_over_the_file() {
    let raw =
        file::parse("base_url = \"http://file.example/v1\"\n[timeouts]\ntotal_secs = 5").unwrap();
    let c = RawConfig {
        base_url: Some("http://env.example/v1".into()),
        timeout_secs: Some("7".into()),
        file: Some((Location::Flag("/x.toml".into()), raw.clone())),
        ..Default::default()
    }
    .check()
    .unwrap();
    assert_eq!(c.base_url.as_str(), "http://env.example/v1");
    assert_eq!(c.timeout, Duration::from_secs(7));
    let c = RawConfig {
        file: Some((Location::Flag("/x.toml".into()), raw)),
        ..Default::default()
    }
    .check()
    .unwrap();
    assert_eq!(c.base_url.as_str(), "http://file.example/v1");
    assert_eq!(c.timeout, Duration::from_secs(5));
    assert_eq!(
        c.first_byte_timeout,
        Duration::from_secs(5),
        "capped by the total"
    );
}

#[test]
fn relative_paths_are_relative_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("images")).unwrap();
    std::fs::write(dir.path().join("token"), "s3cret\n").unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[vision]\nallowed_dirs = [\"images\"]\n[http]\nauth_token_file = \"token\"\n",
    )
    .unwrap();
    let c = RawConfig::load(Some(&path)).unwrap().check().unwrap();
    assert_eq!(
        c.allowed_dirs,
        [std::fs::canonicalize(dir.path().join("images")).unwrap()]
    );
    use secrecy::ExposeSecret;
    assert_eq!(c.http.auth_token.unwrap().expose_secret(), "s3cret");
}

#[test]
fn a_named_file_must_exist() {
    let e = RawConfig::load(Some(Path::new("/no/such/llm-router.toml"))).unwrap_err();
    let e = e.to_string();
    assert!(
        e.starts_with("/no/such/llm-router.toml: (the config file, from --config) cannot read it"),
        "{e}"
    );
}
