//! `vision`: ask a vision-capable model about one or more images.
//!
//! Images may be https URLs (passed through; the gateway fetches them), `data:` URIs
//! (checked), or local files. Local files are read only inside the directories the user
//! allowed (`--allow-dir` / `LLM_ROUTER_ALLOWED_DIRS`; none by default), after resolving
//! symlinks, size-capped, with the type sniffed from the content (not the file name), and sent
//! as a `data:` URI.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::io::AsyncReadExt;

use crate::App;
use crate::error::{Error, invalid};
use crate::pipeline::{self, Answer, Ctx};
use crate::tools::input::{fallback_ids, model_id, reject_unknown};
use crate::upstream::ChatRequest;
use crate::upstream::types::{Sampling, WireMessage};

pub const NAME: &str = "vision";
pub const DESCRIPTION: &str = "Ask a vision model about images . Output as chat.";

/// The most images one call may carry.
const MAX_IMAGES: usize = 16;
/// Image types the gateway's vision models accept.
const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

// How closely the model should look at the images.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    Low,
    High,
    Auto,
}

impl Detail {
    fn as_str(self) -> &'static str {
        match self {
            Detail::Low => "low",
            Detail::High => "high",
            Detail::Auto => "auto",
        }
    }
}

/// Arguments of `vision`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// Vision model. Default gpt-4.1-mini.
    #[serde(default)]
    pub model: Option<String>,
    /// Models to try in order if model fails.
    #[serde(default)]
    pub fallback_models: Vec<String>,
    /// What to ask about the images.
    pub prompt: String,
    /// 1–16 https URLs, data: URIs or file paths.
    pub images: Vec<String>,
    /// low is cheaper.
    #[serde(default)]
    pub detail: Option<Detail>,
    #[serde(flatten)]
    pub sampling: Sampling,
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: Map<String, Value>,
}

pub async fn execute(app: &App, input: Input, ctx: &Ctx) -> Result<Answer, Error> {
    // parse
    reject_unknown::<Input>(NAME, &input.unknown)?;
    input.sampling.check()?;
    if input.prompt.trim().is_empty() {
        return Err(invalid("prompt is empty: say what to do with the images"));
    }
    if input.images.is_empty() || input.images.len() > MAX_IMAGES {
        return Err(invalid(format!(
            "images must hold 1 to {MAX_IMAGES} images, got {}",
            input.images.len()
        )));
    }
    // decide
    let model = model_id(
        app,
        input.model.as_deref(),
        &app.catalog.default_vision_model,
    )?;
    let fallbacks = fallback_ids(app, &input.fallback_models)?;
    for id in std::iter::once(&model).chain(&fallbacks) {
        check_accepts_images(app, id)?;
    }
    let mut parts = vec![json!({"type": "text", "text": input.prompt})];
    for (i, image) in input.images.iter().enumerate() {
        let url = image_url(app, image)
            .await
            .map_err(|e| prefix_error(i, e))?;
        let mut image_url = json!({"url": url});
        if let Some(detail) = input.detail {
            image_url["detail"] = Value::String(detail.as_str().to_owned());
        }
        parts.push(json!({"type": "image_url", "image_url": image_url}));
    }
    // call + account
    let message = WireMessage {
        role: "user",
        content: Value::Array(parts),
        name: None,
        tool_call_id: None,
        tool_calls: None,
    };
    let request = ChatRequest::new(model, vec![message], input.sampling);
    pipeline::call(app, request, &fallbacks, ctx).await
}

/// Fails when the catalog knows `id` and says it takes no images (unknown models are let
/// through: the gateway knows more models than the catalog).
fn check_accepts_images(app: &App, id: &str) -> Result<(), Error> {
    match app.model_info(id) {
        Some(info) if !info.vision => {
            let capable: Vec<&str> = app
                .catalog
                .models()
                .iter()
                .filter(|m| m.vision)
                .map(|m| m.id.as_str())
                .take(6)
                .collect();
            Err(invalid(format!(
                "{} does not accept images; use a vision model such as {}",
                info.id,
                capable.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

fn prefix_error(i: usize, e: Error) -> Error {
    match e {
        Error::InvalidArgument(m) => Error::InvalidArgument(format!("images[{i}]: {m}")),
        Error::File(m) => Error::File(format!("images[{i}]: {m}")),
        other => other,
    }
}

/// Turns one `images` entry into the URL sent upstream.
async fn image_url(app: &App, image: &str) -> Result<String, Error> {
    let image = image.trim();
    let lower = image.get(..8).unwrap_or(image).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        url::Url::parse(image)
            .map_err(|e| invalid(format!("'{image}' is not a valid URL: {e}")))?;
        return Ok(image.to_owned());
    }
    if lower.starts_with("data:") {
        check_data_uri(image, app.config.max_image_bytes)?;
        return Ok(image.to_owned());
    }
    let path = image.strip_prefix("file://").unwrap_or(image);
    read_local_image(path, &app.config.allowed_dirs, app.config.max_image_bytes).await
}

/// Checks a `data:` URI: an image type, base64, decodable, within the size cap.
fn check_data_uri(uri: &str, max_bytes: u64) -> Result<(), Error> {
    let (header, payload) = uri
        .split_once(',')
        .ok_or_else(|| invalid("a data: URI needs a ',' before its payload"))?;
    let mime = header
        .strip_prefix("data:")
        .and_then(|h| h.strip_suffix(";base64"))
        .ok_or_else(|| invalid("a data: URI must look like data:image/png;base64,…"))?;
    if !IMAGE_TYPES.contains(&mime.to_ascii_lowercase().as_str()) {
        return Err(invalid(format!(
            "data: URI type '{mime}' is not a supported image type ({})",
            IMAGE_TYPES.join(", ")
        )));
    }
    if (payload.len() as u64) / 4 * 3 > max_bytes {
        return Err(invalid(format!(
            "the data: URI image is larger than {} MB",
            max_bytes / (1024 * 1024)
        )));
    }
    BASE64
        .decode(payload.trim())
        .map_err(|e| invalid(format!("the data: URI payload is not valid base64: {e}")))?;
    Ok(())
}

/// Reads the regular file `real` (named `path` to the user), failing past `max_bytes`. The
/// size is checked on the opened file and the read itself stops one byte past the limit, so
/// a file that grows after the check (or lies about its size) is never read whole.
async fn read_at_most(path: &str, real: &Path, max_bytes: u64) -> Result<Vec<u8>, Error> {
    let cannot_read = |e: std::io::Error| Error::File(format!("cannot read '{path}': {e}"));
    let too_large = |len: u64| {
        Error::File(format!(
            "'{path}' is {len} bytes; the limit is {} MB",
            max_bytes / (1024 * 1024)
        ))
    };
    let file = tokio::fs::File::open(real).await.map_err(cannot_read)?;
    let meta = file.metadata().await.map_err(cannot_read)?;
    if !meta.is_file() {
        return Err(Error::File(format!("'{path}' is not a regular file")));
    }
    if meta.len() > max_bytes {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(cannot_read)?;
    if bytes.len() as u64 > max_bytes {
        return Err(Error::File(format!(
            "'{path}' grew past the limit of {} MB while it was read",
            max_bytes / (1024 * 1024)
        )));
    }
    Ok(bytes)
}

/// Reads a local image inside the allowed directories and returns it as a data URI.
async fn read_local_image(
    path: &str,
    allowed: &[PathBuf],
    max_bytes: u64,
) -> Result<String, Error> {
    if allowed.is_empty() {
        return Err(Error::File(format!(
            "reading local files is off, so '{path}' cannot be used. Start the server with \
             --allow-dir DIR or set LLM_ROUTER_ALLOWED_DIRS=DIR (then images inside DIR work), \
             or pass an https URL or a data: URI"
        )));
    }
    // Resolve `..` and symlinks first, then check the real path is inside an allowed dir.
    let real = tokio::fs::canonicalize(path)
        .await
        .map_err(|e| Error::File(format!("cannot open '{path}': {e}")))?;
    if !allowed.iter().any(|dir| real.starts_with(dir)) {
        return Err(Error::File(format!(
            "'{path}' is outside the allowed directories ({}); add its directory with \
             --allow-dir or LLM_ROUTER_ALLOWED_DIRS",
            display_dirs(allowed)
        )));
    }
    // Not a FIFO or device before opening it (opening a FIFO would wait for a writer).
    let meta = tokio::fs::metadata(&real)
        .await
        .map_err(|e| Error::File(format!("cannot read '{path}': {e}")))?;
    if !meta.is_file() {
        return Err(Error::File(format!("'{path}' is not a regular file")));
    }
    let bytes = read_at_most(path, &real, max_bytes).await?;
    let mime = infer::get(&bytes)
        .map(|t| t.mime_type())
        .filter(|m| IMAGE_TYPES.contains(m))
        .ok_or_else(|| {
            Error::File(format!(
                "'{path}' is not a PNG, JPEG, GIF or WebP image (judged by its content)"
            ))
        })?;
    Ok(format!("data:{mime};base64,{}", BASE64.encode(&bytes)))
}

fn display_dirs(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_1X1: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89,
    ];

    #[test]
    fn data_uris_are_checked() {
        let ok = format!("data:image/png;base64,{}", BASE64.encode(PNG_1X1));
        assert!(check_data_uri(&ok, 1024).is_ok());
        let msg = |u: &str| check_data_uri(u, 1024).unwrap_err().to_string();
        assert!(msg("data:text/plain;base64,aGk=").contains("not a supported image type"));
        assert!(msg("data:image/png;base64,@@@").contains("not valid base64"));
        assert!(msg("data:image/png,abc").contains("data:image/png;base64"));
        assert!(msg("data:image/png;base64").contains("','"));
    }

    #[tokio::test]
    async fn local_files_are_read_only_inside_allowed_dirs() {
        let allowed = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(allowed.path()).unwrap();
        std::fs::write(dir.join("a.png"), PNG_1X1).unwrap();
        std::fs::write(dir.join("notes.png"), b"just text").unwrap();
        std::fs::write(outside.path().join("b.png"), PNG_1X1).unwrap();
        let allow = vec![dir.clone()];

        let uri = read_local_image(dir.join("a.png").to_str().unwrap(), &allow, 1024)
            .await
            .unwrap();
        assert!(uri.starts_with("data:image/png;base64,"));

        let err = |p: PathBuf, allow: Vec<PathBuf>| async move {
            read_local_image(p.to_str().unwrap(), &allow, 1024)
                .await
                .unwrap_err()
                .to_string()
        };
        assert!(
            err(outside.path().join("b.png"), allow.clone())
                .await
                .contains("outside the allowed")
        );
        // `..` that climbs out of the allowed dir is caught after resolution.
        let climb = dir
            .join("..")
            .join(outside.path().file_name().unwrap())
            .join("b.png");
        assert!(
            err(climb, allow.clone())
                .await
                .contains("outside the allowed")
        );
        assert!(
            err(dir.join("notes.png"), allow.clone())
                .await
                .contains("not a PNG")
        );
        assert!(err(dir.join("a.png"), vec![]).await.contains("--allow-dir"));
        assert!(
            err(dir.clone(), allow.clone())
                .await
                .contains("not a regular file")
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path().join("b.png"), dir.join("link.png")).unwrap();
            assert!(
                err(dir.join("link.png"), allow)
                    .await
                    .contains("outside the allowed")
            );
        }
    }

    #[tokio::test]
    async fn a_file_within_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        std::fs::write(&path, [7u8; 100]).unwrap();
        let bytes = read_at_most("a.bin", &path, 100).await.unwrap();
        assert_eq!(bytes.len(), 100);
        let e = read_at_most("a.bin", &path, 99).await.unwrap_err();
        assert!(e.to_string().contains("is 100 bytes"), "{e}");
    }

    /// procfs files report a size of 0 but hold more: the size check passes, and only the
    /// capped read keeps the limit — as for a file that grows after its size was checked.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_read_itself_stops_at_the_limit_whatever_the_size_said() {
        let path = Path::new("/proc/self/status");
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        let e = read_at_most("status", path, 64).await.unwrap_err();
        assert!(e.to_string().contains("grew past the limit"), "{e}");
    }
}
