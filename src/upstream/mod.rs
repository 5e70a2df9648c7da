//! The one HTTP client to the gateway (any OpenAI-compatible base URL).
//!
//! One pooled `reqwest` client for the process; every request carries the key as a Bearer
//! token when one is configured. The key is exposed only here, at the moment the header is
//! built, and scrubbed from any upstream text before that text reaches an error message.

pub mod credits;
mod status;
pub mod types;

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::Error;
pub use types::{ChatRequest, ChatResponse, LiveModel};

/// The most of one upstream response body llm-router reads.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

enum Capped {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads a body chunk by chunk, giving up once it passes `limit` bytes.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, Capped> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Capped::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(Capped::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The gateway client.
#[derive(Debug)]
pub struct Upstream {
    http: reqwest::Client,
    base_url: String,
    key: Option<SecretString>,
    /// The AIsa gateway needs a key; a custom base URL (Ollama, vLLM) may not.
    key_required: bool,
    timeout: Duration,
    /// How long to wait for the response headers.
    first_byte_timeout: Duration,
}

impl Upstream {
    /// Builds the pooled client from the checked configuration.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("llm-router/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(Self {
            http,
            base_url: config.base_url.as_str().trim_end_matches('/').to_owned(),
            key: config.api_key.clone(),
            key_required: config.is_default_gateway,
            timeout: config.timeout,
            first_byte_timeout: config.first_byte_timeout,
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `POST /chat/completions`.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let builder = self
            .http
            .post(format!("{}/chat/completions", self.base_url))
            .json(request);
        let response: ChatResponse = self.send(builder, &request.model).await?;
        if let Some(err) = &response.error {
            // A 200 that carries an error object: treat it as the gateway's failure.
            let message = status::error_message(err.to_string().as_bytes())
                .unwrap_or_else(|| "an error object without a message".to_owned());
            return Err(Error::Upstream {
                status: 200,
                message: self.scrub(message),
            });
        }
        if response.choices.is_empty() {
            return Err(Error::BadResponse(
                "the response has no choices (no answer from the model)".to_owned(),
            ));
        }
        Ok(response)
    }

    /// `GET /models`: the ids the gateway serves now.
    pub async fn list_models(&self) -> Result<Vec<LiveModel>, Error> {
        let builder = self.http.get(format!("{}/models", self.base_url));
        let list: types::ModelList = self.send(builder, "").await?;
        Ok(list.data)
    }

    /// Sends a request with auth and maps every failure to an [`Error`].
    async fn send<T: DeserializeOwned>(
        &self,
        builder: reqwest::RequestBuilder,
        model: &str,
    ) -> Result<T, Error> {
        let builder = match &self.key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
                    .map_err(|_| {
                    Error::InvalidArgument(
                        "AISA_API_KEY contains characters that cannot go in an HTTP header"
                            .to_owned(),
                    )
                })?;
                value.set_sensitive(true);
                builder.header(AUTHORIZATION, value)
            }
            None if self.key_required => return Err(Error::MissingApiKey),
            None => builder,
        };
        let transport =
            |e: reqwest::Error| status::from_transport(&e, self.timeout, &self.base_url);
        let response = tokio::time::timeout(self.first_byte_timeout, builder.send())
            .await
            .map_err(|_| Error::Timeout {
                after: self.first_byte_timeout,
            })?
            .map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response, MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                Capped::Transport(e) => transport(e),
                Capped::TooLarge => Error::BadResponse(format!(
                    "the response is larger than {} MB; llm-router stopped reading it",
                    MAX_BODY_BYTES / (1024 * 1024)
                )),
            })?;
        if !status.is_success() {
            let mut error = status::from_status(status, &headers, &body, model);
            self.scrub_error(&mut error);
            if let (Error::Unauthorized { message, .. }, None) = (&mut error, &self.key) {
                // A custom base URL refused a keyless request: say what is missing.
                message.push_str(" (no key was sent: AISA_API_KEY is not set)");
            }
            return Err(error);
        }
        serde_json::from_slice(&body).map_err(|e| {
            let snippet = status::error_message(&body).unwrap_or_else(|| "an empty body".into());
            Error::BadResponse(self.scrub(format!("{e}; the body was: {snippet}")))
        })
    }

    /// Removes the key from text that came from upstream.
    fn scrub(&self, text: String) -> String {
        match &self.key {
            Some(key) if !key.expose_secret().is_empty() && text.contains(key.expose_secret()) => {
                text.replace(key.expose_secret(), "[redacted]")
            }
            _ => text,
        }
    }

    fn scrub_error(&self, error: &mut Error) {
        match error {
            Error::Unauthorized { message, .. }
            | Error::OutOfCredits { message }
            | Error::UnknownModel { message, .. }
            | Error::RateLimited { message, .. }
            | Error::BadRequest { message, .. }
            | Error::Upstream { message, .. } => *message = self.scrub(std::mem::take(message)),
            _ => {}
        }
    }
}
