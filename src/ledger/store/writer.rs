//! The ledger's writer thread: group commit for the rows of concurrent calls.
//!
//! [`super::Store::record`] hands its row to one thread per store and waits for the answer.
//! The thread takes every row that has queued up (at most [`MAX_BATCH`]), commits them in one
//! transaction and only then answers each waiter, so "the row is committed before the tool
//! returns" still holds while concurrent calls share one commit (and its lock and fsync).
//! There is no timer: a lone row is committed at once. If a batch fails, its rows are retried
//! one by one, so one bad row costs no other row.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{Record, insert_on};

/// The most rows the writer commits in one transaction.
const MAX_BATCH: usize = 256;

/// A row for the writer thread, and where to send the outcome of its commit.
pub(super) type Job = (Record, oneshot::Sender<rusqlite::Result<()>>);

/// Starts the writer thread on `conn`; `None` (logged) when the thread cannot be started.
pub(super) fn start(conn: Arc<Mutex<Connection>>) -> Option<mpsc::Sender<Job>> {
    let (queue, jobs) = mpsc::channel();
    let started = std::thread::Builder::new()
        .name("ledger-writer".into())
        .spawn(move || write_batches(&conn, &jobs));
    match started {
        Ok(_) => Some(queue),
        Err(e) => {
            tracing::warn!(error = %e, "no ledger writer thread; rows are written one by one");
            None
        }
    }
}

/// The writer thread: takes every row waiting (up to [`MAX_BATCH`]), commits them together,
/// answers each waiter, and starts over; ends when every sender is gone.
fn write_batches(conn: &Mutex<Connection>, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
        let outcomes = commit_batch(&mut conn, &batch);
        drop(conn);
        for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
            // The waiter may be gone (its call was cancelled); the row is committed anyway.
            let _ = reply.send(outcome);
        }
    }
}

/// Commits `batch` in one transaction, or — when that fails, or for a single row — each row
/// on its own; one outcome per row.
pub(super) fn commit_batch(conn: &mut Connection, batch: &[Job]) -> Vec<rusqlite::Result<()>> {
    if batch.len() > 1 {
        match commit_together(conn, batch) {
            Ok(()) => return batch.iter().map(|_| Ok(())).collect(),
            Err(e) => {
                tracing::debug!(error = %e, rows = batch.len(), "ledger batch failed; row by row")
            }
        }
    }
    batch.iter().map(|(r, _)| insert_on(conn, r)).collect()
}

/// Inserts every row of `batch` in one transaction (nothing is committed if one fails).
fn commit_together(conn: &mut Connection, batch: &[Job]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (r, _) in batch {
        insert_on(&tx, r)?;
    }
    tx.commit()
}
