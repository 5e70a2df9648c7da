//! The legacy HTTP+SSE transport (MCP 2024-11-05) for clients that predate Streamable HTTP.
//!
//! rmcp dropped this transport in 0.11; the spec advises servers to keep hosting the old
//! endpoints beside `/mcp`. The adapter is small because a pair of channels is an rmcp
//! transport: `GET /sse` creates a session, serves one [`Router`] on
//! `(PollSender, ReceiverStream)` and streams its messages out as `event: message` after a
//! first `event: endpoint` naming `/message?sessionId=<id>`; `POST /message?sessionId=<id>`
//! feeds one JSON-RPC message into that session and answers 202. The session is removed
//! (and its handler stopped) when the SSE stream closes, or when it has been idle (no message,
//! no call in progress) for the configured `session_idle`. Host/Origin/token checks happen in
//! the middleware of [`super::http`], in front of both endpoints.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{Stream, StreamExt, stream};
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, JsonRpcMessage, RequestId, ServerJsonRpcMessage};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, PollSender};

use crate::server::Router;
use crate::server::http::{InFlight, Ticket};

/// Messages buffered per direction per session before `POST /message` waits.
const CHANNEL: usize = 64;

/// Shared state of the legacy endpoints.
#[derive(Clone)]
pub struct LegacySse {
    /// The handler, built once; each session serves a clone.
    handler: Router,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
    /// Cancelled at shutdown: every session stops and its stream ends.
    shutdown: CancellationToken,
    in_flight: InFlight,
    keep_alive: Duration,
    /// A session with no message for this long (and no call in progress) is closed.
    idle: Duration,
}

/// One open `/sse` stream.
#[derive(Clone)]
struct Session {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    /// Requests posted but not yet answered on the stream (counted for shutdown).
    pending: Arc<Mutex<HashMap<RequestId, Ticket>>>,
    /// When the client last posted a message.
    last_seen: Arc<Mutex<Instant>>,
}

impl LegacySse {
    pub fn new(
        handler: Router,
        shutdown: CancellationToken,
        in_flight: InFlight,
        keep_alive: Duration,
        idle: Duration,
    ) -> Self {
        Self {
            handler,
            sessions: Arc::default(),
            shutdown,
            in_flight,
            keep_alive,
            idle,
        }
    }

    /// Sessions open now.
    pub fn session_count(&self) -> usize {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn session(&self, id: &str) -> Option<Session> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }
}

/// `GET /sse` and `POST /message`.
pub fn routes(state: LegacySse) -> axum::Router {
    axum::Router::new()
        .route("/sse", get(open))
        .route("/message", post(message))
        .with_state(state)
}

/// Removes the session and stops its handler when the SSE stream is dropped.
struct Closer {
    id: String,
    state: LegacySse,
    ct: CancellationToken,
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.ct.cancel();
        self.state
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        tracing::info!(mcp.session.id = %self.id, "legacy SSE session closed");
    }
}

async fn open(
    State(state): State<LegacySse>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(CHANNEL);
    let pending = Arc::new(Mutex::new(HashMap::new()));
    let last_seen = Arc::new(Mutex::new(Instant::now()));
    state
        .sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            id.clone(),
            Session {
                to_server,
                pending: pending.clone(),
                last_seen: last_seen.clone(),
            },
        );

    let ct = state.shutdown.child_token();
    let handler = state.handler.for_session();
    let transport = (PollSender::new(to_client), ReceiverStream::new(from_client));
    let session_ct = ct.clone();
    let session_id = id.clone();
    tokio::spawn(async move {
        match handler.serve_with_ct(transport, session_ct).await {
            Ok(running) => {
                let reason = running.waiting().await;
                tracing::debug!(mcp.session.id = %session_id, ?reason, "legacy SSE session ended");
            }
            Err(e) => {
                tracing::info!(mcp.session.id = %session_id, error = %e, "legacy SSE session never initialized");
            }
        }
    });
    tokio::spawn(close_when_idle(
        ct.clone(),
        last_seen,
        pending.clone(),
        state.idle,
        id.clone(),
    ));
    tracing::info!(mcp.session.id = %id, "legacy SSE session opened");

    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/message?sessionId={id}"));
    let keep_alive = state.keep_alive;
    let closer = Closer { id, state, ct };
    let messages = ReceiverStream::new(from_server).map(move |msg| {
        let _open = &closer;
        if let Some(id) = answered_id(&msg) {
            pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(id);
        }
        let data = serde_json::to_string(&msg).unwrap_or_default();
        Ok(Event::default().event("message").data(data))
    });
    Sse::new(stream::once(async { Ok(endpoint) }).chain(messages))
        .keep_alive(KeepAlive::new().interval(keep_alive))
}

/// Ends the session (and so its stream) once no message has come for `idle` and no call is
/// in progress; returns early when the session ends for another reason.
async fn close_when_idle(
    ct: CancellationToken,
    last_seen: Arc<Mutex<Instant>>,
    pending: Arc<Mutex<HashMap<RequestId, Ticket>>>,
    idle: Duration,
    id: String,
) {
    loop {
        let seen = *last_seen.lock().unwrap_or_else(PoisonError::into_inner);
        tokio::select! {
            () = ct.cancelled() => return,
            () = tokio::time::sleep_until((seen + idle).into()) => {}
        }
        let quiet = last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
            >= idle;
        let busy = !pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty();
        if quiet && !busy {
            tracing::info!(mcp.session.id = %id, idle_secs = idle.as_secs_f64(), "closing idle legacy SSE session");
            ct.cancel();
            return;
        }
        if busy {
            // A call is running: look again after another period of quiet.
            *last_seen.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
        }
    }
}

/// The request id a server message answers, if it is a response or an error.
fn answered_id(msg: &ServerJsonRpcMessage) -> Option<&RequestId> {
    match msg {
        JsonRpcMessage::Response(r) => Some(&r.id),
        JsonRpcMessage::Error(e) => e.id.as_ref(),
        _ => None,
    }
}

#[derive(Deserialize)]
struct MessageQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

async fn message(
    State(state): State<LegacySse>,
    query: Result<Query<MessageQuery>, QueryRejection>,
    body: Bytes,
) -> Response {
    let Ok(Query(query)) = query else {
        return (StatusCode::BAD_REQUEST, "missing ?sessionId=\n").into_response();
    };
    let Some(session) = state.session(&query.session_id) else {
        return (StatusCode::NOT_FOUND, "unknown or closed session\n").into_response();
    };
    let msg: ClientJsonRpcMessage = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not a JSON-RPC message: {e}\n"),
            )
                .into_response();
        }
    };
    *session
        .last_seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    if let JsonRpcMessage::Request(r) = &msg {
        session
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(r.id.clone(), state.in_flight.enter());
    }
    match session.to_server.send(msg).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "session closed\n").into_response(),
    }
}
