//! MCP progress for tool calls: when a request carries a progress token, what the call
//! reports ([`Progress`]) goes back as `notifications/progress`.
//!
//! MCP has no partial results, so progress messages are the streaming channel. Text is
//! batched — sent when [`BATCH_WINDOW`] has passed since the first unsent piece or
//! [`BATCH_PIECES`] pieces are waiting, and at the end — so a fast model does not cost a
//! notification per token; each message holds only the new text, so the messages concatenated
//! are the answer. Status lines go out at once, each as its own message. Until the first text
//! arrives, a heartbeat (a notification without a message) goes out whenever nothing was sent
//! for the heartbeat interval, so clients that reset their timeout on progress keep waiting.
//! `progress` counts the notifications sent (it must grow with each one).
//! All notifications are sent before the tool's result.

use std::time::Duration;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::pipeline::Progress;

/// How long text may wait before it is sent.
pub const BATCH_WINDOW: Duration = Duration::from_millis(100);
/// How many pieces (about one token each) may wait before they are sent.
pub const BATCH_PIECES: usize = 64;

/// Sends progress notifications for one request.
pub struct Relay {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    ct: CancellationToken,
    sent: u32,
}

impl Relay {
    pub fn new(peer: Peer<RoleServer>, token: ProgressToken, ct: CancellationToken) -> Self {
        Self {
            peer,
            token,
            ct,
            sent: 0,
        }
    }

    /// Relays everything from `rx` until the channel closes (the call is over), then
    /// returns: the caller sends the result after this, so it follows every notification.
    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Progress>, heartbeat: Duration) {
        let mut pending = String::new();
        let mut pieces = 0usize;
        let mut flush_at: Option<Instant> = None;
        let mut text_started = false;
        let mut last_sent = Instant::now();
        loop {
            let beat_at = last_sent + heartbeat;
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Progress::Text(t)) => {
                        text_started = true;
                        pending.push_str(&t);
                        pieces += 1;
                        flush_at.get_or_insert_with(|| Instant::now() + BATCH_WINDOW);
                        if pieces >= BATCH_PIECES {
                            self.send(Some(std::mem::take(&mut pending))).await;
                            (pieces, flush_at, last_sent) = (0, None, Instant::now());
                        }
                    }
                    Some(Progress::Status(line)) => {
                        if !pending.is_empty() {
                            self.send(Some(std::mem::take(&mut pending))).await;
                            (pieces, flush_at) = (0, None);
                        }
                        self.send(Some(line)).await;
                        last_sent = Instant::now();
                    }
                    None => break,
                },
                _ = sleep_until(flush_at), if flush_at.is_some() => {
                    self.send(Some(std::mem::take(&mut pending))).await;
                    (pieces, flush_at, last_sent) = (0, None, Instant::now());
                }
                _ = tokio::time::sleep_until(beat_at), if !text_started => {
                    self.send(None).await;
                    last_sent = Instant::now();
                }
            }
        }
        if !pending.is_empty() {
            self.send(Some(pending)).await;
        }
    }

    /// One notification; a failure to send is logged, not fatal (the call goes on).
    async fn send(&mut self, message: Option<String>) {
        if self.ct.is_cancelled() {
            return;
        }
        self.sent += 1;
        let mut param = ProgressNotificationParam::new(self.token.clone(), f64::from(self.sent));
        param.message = message;
        if let Err(e) = self.peer.notify_progress(param).await {
            tracing::debug!(error = %e, "could not send a progress notification");
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
