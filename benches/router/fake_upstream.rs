//! A minimal, fast OpenAI-compatible upstream for the benchmark (`POST /v1/chat/completions`).
//!
//! It runs on its own thread with its own single-threaded tokio runtime, so the load
//! generator's tasks do not queue in front of it. Every answer is the same tiny completion,
//! serialised once at start. What it does is chosen by the requested `model`:
//!
//! | model            | behaviour                                                           |
//! |------------------|---------------------------------------------------------------------|
//! | `delay-<ms>-…`   | waits `<ms>` milliseconds, then answers                             |
//! | `hold-…`         | counted as held, waits until [`FakeUpstream::release`], then answers |
//! | anything else    | answers at once                                                     |
//!
//! With `"stream": true` in the request the answer is sent as OpenAI-style SSE chunks
//! (`data: {…}` lines ending with `data: [DONE]`): the role and the first piece of the text
//! go out at once, the rest after the delay or (for `hold-…`) the release, so a streamed call
//! stays open, with text already relayed, while it is held.
//! Requests without `Authorization: Bearer <KEY>` get 401.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt as _;
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Notify, oneshot};

/// The API key the fake accepts; the router is given it as `AISA_API_KEY`.
pub const KEY: &str = "sk-bench-not-a-real-key";
/// The model every plain call asks for.
pub const FAST_MODEL: &str = "bench-fast";
/// The answer text every call gets.
pub const ANSWER: &str = "ok";

/// Counters shared by the handler and the benchmark.
#[derive(Default)]
struct Shared {
    /// Chat requests answered (or being answered) since start.
    chat_requests: AtomicUsize,
    /// Chat requests that asked for a streamed answer.
    streamed_requests: AtomicUsize,
    /// `hold-…` requests currently waiting for the release.
    held: AtomicUsize,
    /// Set by `release`; later `hold-…` requests do not wait.
    released: AtomicBool,
    release: Notify,
    /// Wakes `wait_held` whenever `held` grows.
    held_changed: Notify,
    /// The serialised non-streamed completion.
    completion: Bytes,
}

/// The running fake; dropping it stops the server thread.
pub struct FakeUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The few request fields the fake looks at.
#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow)]
    model: std::borrow::Cow<'a, str>,
    #[serde(default)]
    stream: bool,
}

impl FakeUpstream {
    /// Binds `127.0.0.1:0` and serves on a new thread.
    pub fn start() -> anyhow::Result<Self> {
        let completion = serde_json::to_vec(&completion_body())?;
        let shared = Arc::new(Shared {
            completion: Bytes::from(completion),
            ..Shared::default()
        });
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("fake upstream: cannot bind 127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(shared.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("fake-upstream".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                        eprintln!("fake upstream: cannot register the listener");
                        return;
                    };
                    // Streamed answers go out in several writes: no Nagle delay between them.
                    let listener = listener.tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                    if let Err(e) = serve.await {
                        eprintln!("fake upstream stopped: {e}");
                    }
                });
            })?;
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT/v1`, for `AISA_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Chat requests received so far.
    pub fn chat_requests(&self) -> usize {
        self.shared.chat_requests.load(Ordering::SeqCst)
    }

    /// Chat requests so far that asked for a streamed answer.
    pub fn streamed_requests(&self) -> usize {
        self.shared.streamed_requests.load(Ordering::SeqCst)
    }

    /// Re-arms holding: later `hold-…` requests wait for the next [`Self::release`].
    pub fn arm_hold(&self) {
        self.shared.released.store(false, Ordering::SeqCst);
    }

    /// Lets every held request (and every later one, until re-armed) answer.
    pub fn release(&self) {
        self.shared.released.store(true, Ordering::SeqCst);
        self.shared.release.notify_waiters();
    }

    /// Waits until at least `n` `hold-…` requests are held at once; gives up after `limit`
    /// and returns how many were held then.
    pub async fn wait_held(&self, n: usize, limit: Duration) -> usize {
        let wait = async {
            loop {
                let changed = self.shared.held_changed.notified();
                if self.shared.held.load(Ordering::SeqCst) >= n {
                    return;
                }
                changed.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
        self.shared.held.load(Ordering::SeqCst)
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.release();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn completion_body() -> serde_json::Value {
    json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_760_000_000u64,
        "model": FAST_MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": ANSWER},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    })
}

/// One SSE chunk of a streamed answer.
fn chunk(delta: serde_json::Value, finish: Option<&str>, usage: bool) -> String {
    let mut c = json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000u64,
        "model": FAST_MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    if usage {
        c["usage"] = json!({"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6});
    }
    format!("data: {c}\n\n")
}

/// Held until released, counted in `held` meanwhile.
async fn hold(shared: &Shared) {
    let released = shared.release.notified();
    if shared.released.load(Ordering::SeqCst) {
        return;
    }
    shared.held.fetch_add(1, Ordering::SeqCst);
    shared.held_changed.notify_waiters();
    released.await;
    shared.held.fetch_sub(1, Ordering::SeqCst);
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|k| k == KEY);
    if !authorized {
        return (StatusCode::UNAUTHORIZED, "bad key\n").into_response();
    }
    let Ok(request) = serde_json::from_slice::<ChatRequest>(&body) else {
        return (StatusCode::BAD_REQUEST, "body is not a chat request\n").into_response();
    };
    shared.chat_requests.fetch_add(1, Ordering::Relaxed);
    let model = request.model.as_ref();
    let delay = model
        .strip_prefix("delay-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|ms| ms.parse::<u64>().ok());
    let held = model.starts_with("hold-");

    if request.stream {
        shared.streamed_requests.fetch_add(1, Ordering::Relaxed);
        // The answer in two pieces: the first goes out at once (so a held call has text
        // to relay while it waits), the second after the delay or the release.
        let (head, tail) = ANSWER.split_at(1);
        let first = format!(
            "{}{}",
            chunk(json!({"role": "assistant", "content": ""}), None, false),
            chunk(json!({"content": head}), None, false)
        );
        let rest = format!(
            "{}{}data: [DONE]\n\n",
            chunk(json!({"content": tail}), None, false),
            chunk(json!({}), Some("stop"), true)
        );
        let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(
            futures::stream::once(async move {
                if let Some(ms) = delay {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                if held {
                    hold(&shared).await;
                }
                Ok(rest)
            }),
        );
        return (
            [(header::CONTENT_TYPE, "text/event-stream")],
            Body::from_stream(stream),
        )
            .into_response();
    }

    if let Some(ms) = delay {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if held {
        hold(&shared).await;
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        shared.completion.clone(),
    )
        .into_response()
}
