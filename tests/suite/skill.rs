//! The skill and the Claude Desktop bundle cannot drift from the program: `skill/SKILL.md`'s
//! frontmatter parses as OpenClaw reads it (YAML) with the fields OpenClaw gates on; every
//! `llm-router …` command shown in the skill, its README and the main README names a
//! subcommand and flags that exist in the clap tree; the bundle's `manifest.json` lists exactly
//! the tools the server's `tools/list` returns, for the crate's version.

use std::collections::BTreeSet;

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::util::*;

fn read(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {full}: {e}"))
}

/// The frontmatter (between the leading `---` lines) and the body.
fn split_frontmatter(text: &str) -> (&str, &str) {
    let rest = text
        .strip_prefix("---\n")
        .expect("SKILL.md must start with a --- line");
    let end = rest
        .find("\n---\n")
        .expect("the frontmatter must end with a --- line");
    (&rest[..end], &rest[end + 5..])
}

fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s.parse::<f64>().map(Value::from).unwrap_or(Value::Null),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = k
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("{k:?}"));
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn skill_frontmatter() -> (Value, String) {
    let text = read("skill/SKILL.md");
    let (front, body) = split_frontmatter(&text);
    let docs = YamlLoader::load_from_str(front)
        .unwrap_or_else(|e| panic!("the SKILL.md frontmatter is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "one YAML document");
    (yaml_to_json(&docs[0]), body.to_owned())
}

#[test]
fn the_skill_frontmatter_parses_with_the_fields_openclaw_gates_on() {
    let (front, body) = skill_frontmatter();
    assert_eq!(front["name"], "llm-router");
    let description = front["description"].as_str().unwrap_or_default();
    assert!(
        description.len() > 40 && description.len() < 1024,
        "a description that says when to use the skill: {description:?}"
    );
    assert!(
        front["homepage"]
            .as_str()
            .unwrap_or_default()
            .starts_with("https://")
    );
    let oc = &front["metadata"]["openclaw"];
    assert!(oc.is_object(), "metadata.openclaw: {front:#}");
    assert!(!oc["emoji"].as_str().unwrap_or_default().is_empty());
    assert_eq!(oc["requires"]["bins"], serde_json::json!(["llm-router"]));
    assert_eq!(oc["requires"]["env"], serde_json::json!(["AISA_API_KEY"]));
    assert_eq!(oc["primaryEnv"], "AISA_API_KEY");

    // Installer specs as OpenClaw accepts them (it drops unknown kinds silently).
    let install = oc["install"].as_array().expect("metadata.openclaw.install");
    assert!(!install.is_empty());
    for spec in install {
        let kind = spec["kind"].as_str().unwrap_or_default();
        let needs = match kind {
            "brew" => "formula",
            "node" | "uv" => "package",
            "go" => "module",
            "download" => "url",
            other => panic!("install kind {other:?} is not one OpenClaw knows: {spec}"),
        };
        assert!(spec[needs].is_string(), "{kind} needs {needs}: {spec}");
        assert_eq!(spec["bins"], serde_json::json!(["llm-router"]), "{spec}");
        for os in spec["os"].as_array().into_iter().flatten() {
            assert!(["darwin", "linux", "win32"].contains(&os.as_str().unwrap_or("")));
        }
        if let Some(archive) = spec.get("archive") {
            assert!(["tar.gz", "tar.bz2", "zip"].contains(&archive.as_str().unwrap_or("")));
        }
    }

    // The body refers to the skill folder through {baseDir}, and teaches every tool.
    assert!(
        body.contains("{baseDir}/"),
        "SKILL.md should point at {{baseDir}}"
    );
    for tool in TOOL_NAMES {
        assert!(
            body.contains(&format!("`{tool}`")),
            "SKILL.md never mentions `{tool}`"
        );
    }
}

/// Splits a shell snippet into words, honouring single and double quotes.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// The code in a markdown file: fenced blocks line by line, and inline `code` spans.
fn code_snippets(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            out.push(line.to_owned());
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let Some(code) = parts.next() {
            out.push(code.to_owned());
            parts.next();
        }
    }
    out
}

/// The `llm-router …` invocations in a snippet: each shell command (split at `|`, `&&`, `;`,
/// `$(`) whose program, after any `VAR=value` words, is `llm-router` (or a path to it).
fn invocations(snippet: &str) -> Vec<Vec<String>> {
    let snippet = snippet.replace("\\|", "|");
    let mut out = Vec::new();
    for command in snippet.split(['|', ';', '(']).flat_map(|c| c.split("&&")) {
        let command = command.trim().trim_start_matches("$ ");
        let ws = words(command);
        let mut ws = ws.into_iter().skip_while(|w| {
            w.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            })
        });
        match ws.next() {
            Some(program) if program == "llm-router" || program.ends_with("/llm-router") => {
                // A comment or a redirection ends the arguments.
                let args: Vec<String> = ws
                    .take_while(|w| !(w.starts_with(['#', '>', '<']) || w.starts_with("2>")))
                    .collect();
                // A bare `llm-router` in prose names the program; it is not a command.
                if !args.is_empty() {
                    out.push(args);
                }
            }
            _ => {}
        }
    }
    out
}

/// Checks one invocation against the clap tree; returns what does not exist.
fn check_invocation(root: &clap::Command, args: &[String]) -> Result<(), String> {
    let mut cmd = root;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.starts_with('<') || a.starts_with('[') || a == "…" || a == "..." {
            return Ok(()); // a placeholder: nothing more to check
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            let arg = cmd
                .get_arguments()
                .find(|x| x.get_long() == Some(name))
                .ok_or_else(|| format!("`{}` has no flag --{name}", cmd.get_name()))?;
            if !inline && arg.get_action().takes_values() {
                i += 1;
            }
        } else if a.len() > 1 && a.starts_with('-') && a != "-" {
            let short = a.chars().nth(1).unwrap_or('?');
            let arg = cmd
                .get_arguments()
                .find(|x| x.get_short() == Some(short))
                .ok_or_else(|| format!("`{}` has no flag -{short}", cmd.get_name()))?;
            if a.len() == 2 && arg.get_action().takes_values() {
                i += 1;
            }
        } else if cmd.has_subcommands() {
            cmd = cmd
                .find_subcommand(a)
                .ok_or_else(|| format!("`{}` has no subcommand {a:?}", cmd.get_name()))?;
        } else if cmd.get_positionals().next().is_none() {
            return Err(format!("`{}` takes no argument {a:?}", cmd.get_name()));
        }
        i += 1;
    }
    let asks_help = args
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "--help" | "-V" | "--version"));
    if cmd.has_subcommands() && !asks_help {
        return Err(format!("`{}` needs a subcommand", cmd.get_name()));
    }
    Ok(())
}

fn checked_commands(path: &str) -> usize {
    let mut root = llm_router::cli::command();
    root.build();
    let mut count = 0;
    let mut problems = Vec::new();
    for snippet in code_snippets(&read(path)) {
        for args in invocations(&snippet) {
            count += 1;
            if let Err(e) = check_invocation(&root, &args) {
                problems.push(format!("{path}: `llm-router {}`: {e}", args.join(" ")));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    count
}

#[test]
fn the_docs_name_only_commands_and_flags_that_exist() {
    assert!(
        checked_commands("skill/SKILL.md") >= 8,
        "SKILL.md shows the commands"
    );
    assert!(checked_commands("skill/README.md") >= 3);
    assert!(checked_commands("README.md") >= 3);
}

#[test]
fn the_command_checker_catches_what_does_not_exist() {
    let mut root = llm_router::cli::command();
    root.build();
    let check = |s: &str| {
        let inv = invocations(s);
        assert_eq!(inv.len(), 1, "{s}");
        check_invocation(&root, &inv[0])
    };
    assert!(check("llm-router chat --model gpt-4.1 --message \"a b\" --json").is_ok());
    assert!(check("git diff | llm-router chat --message - --json").is_ok());
    assert!(check("AISA_API_KEY=sk-x llm-router serve --http 127.0.0.1:0").is_ok());
    assert!(check("llm-router config check ./c.toml").is_ok());
    assert!(check("llm-router config example > c.toml  # a comment").is_ok());
    assert!(
        check("llm-router chat --modle x")
            .unwrap_err()
            .contains("--modle")
    );
    assert!(check("llm-router usage --since 7d --by model --csv").is_ok());
    assert!(
        check("llm-router models --json extra")
            .unwrap_err()
            .contains("extra")
    );
    assert!(
        check("llm-router config --json")
            .unwrap_err()
            .contains("--json")
    );
    assert!(
        check("llm-router config path --config c.toml").is_ok(),
        "global flags"
    );
    assert!(check("llm-router --version").is_ok());
    // Not invocations: a server name in another tool's command, JSON, prose.
    assert!(invocations("openclaw mcp add llm-router --command llm-router --arg serve").is_empty());
    assert!(invocations("\"command\": \"llm-router\",").is_empty());
}

fn manifest() -> Value {
    serde_json::from_str(&read("packaging/mcpb/manifest.json")).expect("manifest.json is JSON")
}

#[test]
fn the_bundle_manifest_runs_the_binary_with_the_key_from_user_config() {
    let m = manifest();
    assert_eq!(m["manifest_version"], "0.3");
    assert_eq!(m["name"], "llm-router");
    assert_eq!(
        m["version"],
        env!("CARGO_PKG_VERSION"),
        "bump the manifest with Cargo.toml"
    );
    let server = &m["server"];
    assert_eq!(server["type"], "binary");
    assert_eq!(server["entry_point"], "server/llm-router");
    let config = &server["mcp_config"];
    assert_eq!(config["command"], "${__dirname}/server/llm-router");
    assert_eq!(config["args"], serde_json::json!(["serve"]));
    assert_eq!(config["env"]["AISA_API_KEY"], "${user_config.aisa_api_key}");
    let key = &m["user_config"]["aisa_api_key"];
    assert_eq!(key["sensitive"], true);
    assert_eq!(key["required"], true);
    // Every ${user_config.X} used has a definition.
    for v in config["env"].as_object().unwrap().values() {
        if let Some(name) = v.as_str().and_then(|s| s.strip_prefix("${user_config.")) {
            let name = name.trim_end_matches('}');
            assert!(
                m["user_config"][name].is_object(),
                "user_config.{name} is not defined"
            );
        }
    }
    let policies = m["privacy_policies"].as_array().expect("privacy_policies");
    assert!(
        policies
            .iter()
            .all(|p| p.as_str().unwrap_or("").starts_with("https://"))
    );
    assert!(
        !m["compatibility"]["platforms"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_bundle_manifest_lists_the_tools_the_server_serves() {
    let listed: BTreeSet<String> = manifest()["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            assert!(
                !t["description"].as_str().unwrap_or_default().is_empty(),
                "a description for {t}"
            );
            t["name"].as_str().unwrap().to_owned()
        })
        .collect();
    let server = ServerBuilder::new().start().await;
    let served: BTreeSet<String> = server
        .tools()
        .await
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    server.shutdown().await;
    assert_eq!(listed, served, "manifest.json tools vs tools/list");
    assert_eq!(
        served,
        TOOL_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
}
