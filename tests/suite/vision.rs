//! The `vision` tool.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::fake_upstream::FakeUpstream;
use crate::util::*;

/// A server pointed at `fake` that may read images from `dir` (via the env var).
async fn server_allowing(fake: &FakeUpstream, dir: &Path) -> Server {
    ServerBuilder::new()
        .upstream(fake)
        .env("LLM_ROUTER_ALLOWED_DIRS", dir.to_str().unwrap())
        .start()
        .await
}

/// The single user message's content parts from the only chat request.
fn sent_parts(fake: &FakeUpstream) -> Vec<Value> {
    let body = fake.only_chat_body();
    let messages = body["messages"].as_array().expect("messages array").clone();
    let users: Vec<_> = messages.iter().filter(|m| m["role"] == "user").collect();
    assert_eq!(users.len(), 1, "one user message expected: {body:#}");
    users[0]["content"]
        .as_array()
        .unwrap_or_else(|| panic!("user content must be an array of parts: {body:#}"))
        .clone()
}

fn text_parts(parts: &[Value]) -> Vec<Value> {
    parts
        .iter()
        .filter(|p| p["type"] == "text")
        .cloned()
        .collect()
}

fn image_urls(parts: &[Value]) -> Vec<Value> {
    parts
        .iter()
        .filter(|p| p["type"] == "image_url")
        .map(|p| p["image_url"].clone())
        .collect()
}

#[tokio::test]
async fn vision_sends_a_local_png_as_a_data_uri() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("pixel.png");
    std::fs::write(&img, TINY_PNG).unwrap();
    let fake = FakeUpstream::start().await;
    let server = server_allowing(&fake, dir.path()).await;

    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "What is in this image?",
                   "images": [img.to_str().unwrap()]}),
        )
        .await;
    let v = expect_ok(&r);
    assert_eq!(v["content"], "echo: What is in this image?");
    assert_eq!(v["model"], "gpt-4o");
    assert_eq!(v["requested_model"], "gpt-4o");
    assert_standard_usage(&v);
    assert_eq!(v["cost_source"], "catalog");
    assert_close(&v["cost_usd"], catalog_cost(1.75, 7.00));
    assert!(v["latency_ms"].is_u64());

    let parts = sent_parts(&fake);
    assert_eq!(parts.len(), 2, "{parts:#?}");
    assert_eq!(
        text_parts(&parts),
        vec![json!({"type": "text", "text": "What is in this image?"})]
    );
    let urls = image_urls(&parts);
    assert_eq!(urls.len(), 1);
    let url = urls[0]["url"].as_str().expect("image_url.url");
    let b64 = url
        .strip_prefix("data:image/png;base64,")
        .unwrap_or_else(|| panic!("expected a PNG data URI, got {url:.80}"));
    assert_eq!(STANDARD.decode(b64).expect("valid base64"), TINY_PNG);
}

#[tokio::test]
async fn vision_allow_dir_flag_permits_local_files() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("pixel.png");
    std::fs::write(&img, TINY_PNG).unwrap();
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .arg("--allow-dir")
        .arg(dir.path().to_str().unwrap())
        .start()
        .await;

    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [img.to_str().unwrap()]}),
        )
        .await;
    expect_ok(&r);
    let urls = image_urls(&sent_parts(&fake));
    assert!(
        urls[0]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
}

#[tokio::test]
async fn vision_allows_several_directories_separated_by_colons() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let img = second.path().join("pixel.png");
    std::fs::write(&img, TINY_PNG).unwrap();
    let fake = FakeUpstream::start().await;
    let dirs = format!(
        "{}:{}",
        first.path().to_str().unwrap(),
        second.path().to_str().unwrap()
    );
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_ALLOWED_DIRS", dirs)
        .start()
        .await;
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [img.to_str().unwrap()]}),
        )
        .await;
    expect_ok(&r);
}

#[tokio::test]
async fn vision_allow_dir_flag_can_be_repeated() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let a = first.path().join("a.png");
    let b = second.path().join("b.png");
    std::fs::write(&a, TINY_PNG).unwrap();
    std::fs::write(&b, TINY_PNG).unwrap();
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .arg("--allow-dir")
        .arg(first.path().to_str().unwrap())
        .arg("--allow-dir")
        .arg(second.path().to_str().unwrap())
        .start()
        .await;
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe",
                   "images": [a.to_str().unwrap(), b.to_str().unwrap()]}),
        )
        .await;
    expect_ok(&r);
    let urls = image_urls(&sent_parts(&fake));
    assert_eq!(urls.len(), 2);
    for u in urls {
        assert!(
            u["url"]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
    }
}

#[tokio::test]
async fn vision_sniffs_the_mime_type_from_file_contents() {
    let dir = tempfile::tempdir().unwrap();
    // A JPEG whose name says nothing about its type.
    let img = dir.path().join("photo.bin");
    std::fs::write(&img, JPEG_HEAD).unwrap();
    let fake = FakeUpstream::start().await;
    let server = server_allowing(&fake, dir.path()).await;
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [img.to_str().unwrap()]}),
        )
        .await;
    expect_ok(&r);
    let urls = image_urls(&sent_parts(&fake));
    let url = urls[0]["url"].as_str().unwrap();
    assert!(
        url.starts_with("data:image/jpeg;base64,"),
        "expected a JPEG data URI, got {url:.60}"
    );
}

#[tokio::test]
async fn vision_refuses_files_outside_the_allowed_dirs() {
    let allowed = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let img = elsewhere.path().join("secret.png");
    std::fs::write(&img, TINY_PNG).unwrap();
    let fake = FakeUpstream::start().await;
    let server = server_allowing(&fake, allowed.path()).await;

    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [img.to_str().unwrap()]}),
        )
        .await;
    assert!(is_error(&r), "{}", dump(&r));
    let msg = text(&r).to_lowercase();
    assert!(
        msg.contains("allow-dir") || msg.contains("llm_router_allowed_dirs"),
        "error should point at --allow-dir / LLM_ROUTER_ALLOWED_DIRS: {msg}"
    );
    assert!(
        fake.chat_requests().is_empty(),
        "nothing may be sent upstream"
    );
}

#[tokio::test]
async fn vision_refuses_local_files_when_no_dir_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("pixel.png");
    std::fs::write(&img, TINY_PNG).unwrap();
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [img.to_str().unwrap()]}),
        )
        .await;
    assert!(is_error(&r), "{}", dump(&r));
    let msg = text(&r).to_lowercase();
    assert!(
        msg.contains("allow-dir") || msg.contains("llm_router_allowed_dirs"),
        "error should point at --allow-dir / LLM_ROUTER_ALLOWED_DIRS: {msg}"
    );
    assert!(fake.chat_requests().is_empty());
}

#[tokio::test]
async fn vision_refuses_dot_dot_escapes_from_an_allowed_dir() {
    let root = tempfile::tempdir().unwrap();
    let allowed = root.path().join("allowed");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.png"), TINY_PNG).unwrap();
    let sneaky = allowed.join("..").join("outside").join("secret.png");
    let fake = FakeUpstream::start().await;
    let server = server_allowing(&fake, &allowed).await;
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [sneaky.to_str().unwrap()]}),
        )
        .await;
    assert!(is_error(&r), "a ../ escape must be refused: {}", dump(&r));
    assert!(fake.chat_requests().is_empty());
}

#[cfg(unix)]
#[tokio::test]
async fn vision_refuses_symlinks_that_lead_outside_an_allowed_dir() {
    let allowed = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("secret.png");
    std::fs::write(&target, TINY_PNG).unwrap();
    let link = allowed.path().join("innocent.png");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fake = FakeUpstream::start().await;
    let server = server_allowing(&fake, allowed.path()).await;
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [link.to_str().unwrap()]}),
        )
        .await;
    assert!(
        is_error(&r),
        "a symlink pointing outside the allowed dir must be refused: {}",
        dump(&r)
    );
    assert!(fake.chat_requests().is_empty());
}

#[tokio::test]
async fn vision_rejects_files_that_are_not_images() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.png");
    std::fs::write(&notes, b"just some text, definitely not a picture\n").unwrap();
    let fake = FakeUpstream::start().await;
    let server = server_allowing(&fake, dir.path()).await;
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [notes.to_str().unwrap()]}),
        )
        .await;
    assert!(is_error(&r), "{}", dump(&r));
    assert!(!text(&r).is_empty());
    assert!(fake.chat_requests().is_empty());
}

#[tokio::test]
async fn vision_reports_missing_local_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.png");
    let fake = FakeUpstream::start().await;
    let server = server_allowing(&fake, dir.path()).await;
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [missing.to_str().unwrap()]}),
        )
        .await;
    assert!(is_error(&r), "{}", dump(&r));
    assert!(fake.chat_requests().is_empty());
}

#[tokio::test]
async fn vision_passes_https_urls_through_unchanged() {
    let (fake, server) = start_with_fake().await;
    let url = "https://example.com/images/cat.jpg?size=large&v=2";
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "Which animal?", "images": [url], "detail": "high"}),
        )
        .await;
    let v = expect_ok(&r);
    assert_eq!(v["content"], "echo: Which animal?");

    let parts = sent_parts(&fake);
    assert_eq!(
        image_urls(&parts),
        vec![json!({"url": url, "detail": "high"})]
    );
    assert_eq!(
        text_parts(&parts),
        vec![json!({"type": "text", "text": "Which animal?"})]
    );
}

#[tokio::test]
async fn vision_passes_data_uris_through_unchanged() {
    let (fake, server) = start_with_fake().await;
    let uri = format!("data:image/png;base64,{}", STANDARD.encode(TINY_PNG));
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [uri]}),
        )
        .await;
    expect_ok(&r);
    let urls = image_urls(&sent_parts(&fake));
    assert_eq!(urls.len(), 1);
    assert_eq!(urls[0]["url"], uri);
}

#[tokio::test]
async fn vision_sends_one_part_per_image_in_order() {
    let (fake, server) = start_with_fake().await;
    let images = [
        "https://example.com/a.png",
        "https://example.com/b.png",
        "https://example.com/c.png",
    ];
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "compare", "images": images, "detail": "low"}),
        )
        .await;
    expect_ok(&r);
    let urls: Vec<_> = image_urls(&sent_parts(&fake))
        .into_iter()
        .map(|u| {
            assert_eq!(u["detail"], "low");
            u["url"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(urls, images);
}

#[tokio::test]
async fn vision_passes_temperature_and_max_tokens_through() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe",
                   "images": ["https://example.com/a.png"],
                   "temperature": 0.2, "max_tokens": 77}),
        )
        .await;
    expect_ok(&r);
    let body = fake.only_chat_body();
    assert_param(&body["temperature"], 0.2);
    assert_eq!(body["max_tokens"], 77);
}

#[tokio::test]
async fn vision_rejects_models_without_image_support() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "vision",
            json!({"model": "deepseek-v3.2", "prompt": "describe",
                   "images": ["https://example.com/a.png"]}),
        )
        .await;
    let msg = expect_error(&r, &["deepseek-v3.2", "image"]);
    assert!(!msg.is_empty());
    assert!(
        fake.chat_requests().is_empty(),
        "nothing may be sent upstream"
    );
}

#[tokio::test]
async fn vision_requires_at_least_one_image() {
    let (fake, server) = start_with_fake().await;
    let msg = server
        .call_expecting_error(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": []}),
        )
        .await;
    assert!(!msg.is_empty());
    assert!(fake.chat_requests().is_empty());
}

#[tokio::test]
async fn vision_default_model_accepts_images() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "vision",
            json!({"prompt": "describe", "images": ["https://example.com/a.png"]}),
        )
        .await;
    expect_ok(&r);
    let sent = fake.only_chat_body()["model"]
        .as_str()
        .expect("model sent")
        .to_owned();

    let listed = expect_ok(
        &server
            .call("list_models", json!({"capability": "vision"}))
            .await,
    );
    let vision_ids: Vec<_> = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        vision_ids.contains(&sent.as_str()),
        "default vision model {sent} is not listed as vision-capable: {vision_ids:?}"
    );
}

#[tokio::test]
async fn vision_allowed_dir_matches_whole_path_components() {
    // Allowing `/x/img` must not allow `/x/img-private/...`.
    let root = tempfile::tempdir().unwrap();
    let allowed = root.path().join("img");
    let sibling = root.path().join("img-private");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::create_dir_all(&sibling).unwrap();
    let img = sibling.join("secret.png");
    std::fs::write(&img, TINY_PNG).unwrap();
    let fake = FakeUpstream::start().await;
    let server = server_allowing(&fake, &allowed).await;
    let r = server
        .call(
            "vision",
            json!({"model": "gpt-4o", "prompt": "describe", "images": [img.to_str().unwrap()]}),
        )
        .await;
    assert!(
        is_error(&r),
        "a sibling directory sharing a name prefix must be refused: {}",
        dump(&r)
    );
    assert!(fake.chat_requests().is_empty());
}
