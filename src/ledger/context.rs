//! Who is calling: the tool, task, MCP client and session of the tool call in progress.
//!
//! The ledger records these on every row, and the session budget needs the session; but the
//! point where rows are written (the fallback executor) is far below the tool handler that
//! knows them. Rather than thread them through every signature, the handler runs the tool
//! inside [`scope`] (a Tokio task-local), and the ledger reads [`current`]. Work spawned onto
//! another task does not see the scope; `compare_models`' fan-out runs on the same task.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The facts about one tool call that the ledger records.
#[derive(Debug, Default)]
pub struct CallContext {
    /// The tool (or CLI command).
    pub tool: String,
    /// The MCP client's name and version, from `initialize`.
    pub client: Option<String>,
    /// The MCP session.
    pub session: Option<String>,
    /// Unique per tool call; groups its attempts.
    pub call_id: String,
    task: Mutex<Option<String>>,
    budget_checked: AtomicBool,
}

impl CallContext {
    /// A context for one call of `tool`, with a fresh call id.
    pub fn new(tool: impl Into<String>, client: Option<String>, session: Option<String>) -> Self {
        Self {
            tool: tool.into(),
            client,
            session,
            call_id: uuid::Uuid::new_v4().simple().to_string(),
            ..Self::default()
        }
    }

    /// The `route_by_task` task, once set.
    pub fn task(&self) -> Option<String> {
        self.task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the budget was already checked for the whole call (`compare_models` checks
    /// the sum over its models once, before the fan-out).
    pub fn budget_checked(&self) -> bool {
        self.budget_checked.load(Ordering::Relaxed)
    }
}

tokio::task_local! {
    static CONTEXT: Arc<CallContext>;
}

/// Runs `fut` with `ctx` as the current call context. A plain function, not an `async fn`:
/// an `async fn` that awaits a future it was given holds that future twice in its state,
/// and tool-call futures are kilobytes.
pub fn scope<F: Future>(ctx: CallContext, fut: F) -> impl Future<Output = F::Output> {
    CONTEXT.scope(Arc::new(ctx), fut)
}

/// The current call context, if the caller is inside [`scope`].
pub fn current() -> Option<Arc<CallContext>> {
    CONTEXT.try_with(Arc::clone).ok()
}

/// Records the task of the current call (`route_by_task`).
pub fn set_task(task: &str) {
    if let Some(ctx) = current() {
        *ctx.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task.to_owned());
    }
}

/// Marks the budget of the current call as checked.
pub fn mark_budget_checked() {
    if let Some(ctx) = current() {
        ctx.budget_checked.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_context_is_visible_inside_the_scope_only() {
        assert!(current().is_none());
        let seen = scope(CallContext::new("chat", None, Some("s".into())), async {
            set_task("code");
            mark_budget_checked();
            let ctx = current().unwrap();
            (ctx.tool.clone(), ctx.task(), ctx.budget_checked())
        })
        .await;
        assert_eq!(seen, ("chat".into(), Some("code".into()), true));
        assert!(current().is_none());
        set_task("ignored outside a scope");
    }
}
