//! The usage ledger on disk: one SQLite database (WAL mode), one row per upstream attempt
//! (failed ones included) and per cache hit.
//!
//! Why SQLite: several llm-router processes (a stdio server per MCP host, an HTTP server, the
//! `usage` CLI) share one file, and budgets must see every process's spend. WAL lets readers
//! run while one writer commits; `busy_timeout` makes a writer that finds the file locked wait
//! instead of failing, so concurrent writers do not lose rows. Every row is committed before
//! the tool call that caused it returns; with `synchronous = NORMAL` a commit survives the
//! process being killed (it is in the WAL file), though not necessarily a power cut.
//!
//! Calls record their rows through [`Store::record`], which hands the row to the store's
//! writer thread (the `writer` submodule: group commit) and waits for its commit: under load
//! one commit (locks, WAL frames, index pages) serves many calls, and no call waits for a
//! timer.
//!
//! Money is stored as decimal TEXT and summed in Rust with [`Decimal`], never as a float.
//! The schema is versioned with `PRAGMA user_version`; [`MIGRATIONS`] brings any older file
//! up to date when it is opened.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use rusqlite::{Connection, OptionalExtension, Row, params};
use rust_decimal::Decimal;
use tokio::sync::oneshot;

use crate::ledger::{CostSource, Tokens};
use writer::Job;

mod writer;

/// How long a writer waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Schema migrations, in order: entry `i` upgrades `user_version` `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the calls table.
    "CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        ts_ms INTEGER NOT NULL,
        tool TEXT NOT NULL,
        task TEXT,
        requested_model TEXT NOT NULL,
        served_model TEXT,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd TEXT,
        cost_source TEXT,
        saved_usd TEXT,
        latency_ms INTEGER NOT NULL DEFAULT 0,
        outcome TEXT NOT NULL,
        status INTEGER,
        error TEXT,
        cached INTEGER NOT NULL DEFAULT 0,
        client TEXT,
        session TEXT,
        call_id TEXT
    );
    CREATE INDEX calls_ts ON calls (ts_ms);
    CREATE INDEX calls_session ON calls (session, ts_ms);",
    // 2: which provider each attempt went to (rows from before it: the gateway, `aisa`).
    "ALTER TABLE calls ADD COLUMN provider TEXT;",
];

/// One ledger row: an upstream attempt or a cache hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When the attempt finished, in Unix milliseconds (UTC).
    pub ts_ms: i64,
    /// The MCP tool (or CLI command) that made the call.
    pub tool: String,
    /// The `route_by_task` task, when there was one.
    pub task: Option<String>,
    pub requested_model: String,
    /// The model the gateway said served the answer (none when the attempt failed).
    pub served_model: Option<String>,
    pub tokens: Tokens,
    /// Exact cost; `None` when unknown or when the attempt failed.
    pub cost_usd: Option<Decimal>,
    pub cost_source: Option<CostSource>,
    /// For a cache hit: what the answer cost when it was first bought.
    pub saved_usd: Option<Decimal>,
    pub latency_ms: u64,
    /// `ok` or the error kind (`timeout`, `rate_limited`, …).
    pub outcome: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub cached: bool,
    /// The MCP client's name and version, from `initialize`.
    pub client: Option<String>,
    /// The MCP session (one per stdio process, one per HTTP session).
    pub session: Option<String>,
    /// Groups the attempts of one tool call.
    pub call_id: Option<String>,
    /// The provider the attempt went to (`None` on rows written before providers existed).
    pub provider: Option<String>,
}

/// Running sums for [`Store::spent`]: `(since, session)` → (last row id counted, sum).
type Sums = HashMap<(i64, Option<String>), (i64, Decimal)>;
/// Running sums kept at most (one per budget period and session); then they start over.
const MAX_SUMS: usize = 1024;

/// The one INSERT (prepared once per connection, then taken from its statement cache).
const INSERT: &str = "INSERT INTO calls (ts_ms, tool, task, requested_model, served_model,
    prompt_tokens, completion_tokens, total_tokens, cost_usd, cost_source, saved_usd,
    latency_ms, outcome, status, error, cached, client, session, call_id, provider)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
    ?20)";

/// A handle on the ledger database; cheap to clone, safe to share between tasks.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    sums: Arc<Mutex<Sums>>,
    /// `None` for an in-memory ledger (the file ledger is disabled).
    path: Option<PathBuf>,
    /// The writer thread's queue, started by the first [`Store::record`]; `None` inside
    /// when the thread could not be started (rows are then written one by one). The thread
    /// ends when the last clone of the store is dropped.
    writer: Arc<OnceLock<Option<mpsc::Sender<Job>>>>,
}

fn text_of(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

fn decimal_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<Decimal>> {
    let text: Option<String> = row.get(i)?;
    text.map(|t| {
        Decimal::from_str(&t).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

/// Whether `e` is SQLite saying another connection holds the lock.
fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
            .is_some_and(|code| {
                matches!(
                    code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                )
            })
    })
}

fn source_of(name: &str) -> Option<CostSource> {
    match name {
        "gateway" => Some(CostSource::Gateway),
        "catalog" => Some(CostSource::Catalog),
        "unknown" => Some(CostSource::Unknown),
        "cache" => Some(CostSource::Cache),
        _ => None,
    }
}

impl Store {
    /// Opens (creating if needed) the ledger at `path`, with its parent directories, and
    /// brings its schema up to date.
    ///
    /// SQLite does not call the busy handler everywhere: switching a new file to WAL while
    /// another process does the same, or reading a WAL index another process is rebuilding,
    /// fails with `SQLITE_BUSY` at once. Two servers started together (an MCP host often
    /// spawns several) hit exactly that, so the whole open is retried with a short, jittered
    /// pause until the busy timeout (10 s) has passed.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
        }
        let started = std::time::Instant::now();
        loop {
            match Self::open_once(path) {
                Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(5 + fastrand::u64(0..20)));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Returns the mode; WAL persists in the file once set.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(journal_mode = %mode, "the usage ledger could not switch to WAL");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let store = Self {
            conn: Arc::new(Mutex::new(conn)),
            sums: Arc::default(),
            path: Some(path.to_owned()),
            writer: Arc::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// A ledger that lives only as long as the process (used when the file is disabled, so
    /// budgets and the `usage` tool still see this process's calls).
    pub fn in_memory() -> anyhow::Result<Self> {
        let store = Self {
            conn: Arc::new(Mutex::new(Connection::open_in_memory()?)),
            sums: Arc::default(),
            path: None,
            writer: Arc::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database file, or `None` for an in-memory ledger.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies the migrations this file has not seen, in one transaction that holds the write
    /// lock (`BEGIN IMMEDIATE`), so two processes opening a new file do not both migrate it.
    fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            anyhow::bail!(
                "its schema version is {version}, newer than this llm-router knows ({known}); \
                 upgrade llm-router or use another ledger path"
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)
                .with_context(|| format!("migration {} failed", i + 1))?;
        }
        tx.pragma_update(None, "user_version", known)?;
        tx.commit()?;
        Ok(())
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> rusqlite::Result<i64> {
        self.lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
    }

    /// Appends one row and commits it, on the calling thread.
    pub fn insert(&self, r: &Record) -> rusqlite::Result<()> {
        insert_on(&self.lock(), r)
    }

    /// Appends one row through the writer thread and returns once it is committed (possibly
    /// in one transaction with the rows of concurrent calls).
    pub async fn record(&self, r: Record) -> rusqlite::Result<()> {
        let Some(queue) = self.writer.get_or_init(|| writer::start(self.conn.clone())) else {
            return self.blocking(move |s| s.insert(&r)).await;
        };
        let (reply, committed) = oneshot::channel();
        if let Err(mpsc::SendError((r, _))) = queue.send((r, reply)) {
            return self.blocking(move |s| s.insert(&r)).await;
        }
        committed
            .await
            .unwrap_or_else(|_| Err(task_failed("the ledger writer stopped")))
    }

    /// Every row with `since_ms <= ts_ms < until_ms`, oldest first.
    pub fn rows(&self, since_ms: i64, until_ms: i64) -> rusqlite::Result<Vec<Record>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT ts_ms, tool, task, requested_model, served_model, prompt_tokens,
                completion_tokens, total_tokens, cost_usd, cost_source, saved_usd, latency_ms,
                outcome, status, error, cached, client, session, call_id, provider
             FROM calls WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY ts_ms, id",
        )?;
        let rows = stmt.query_map(params![since_ms, until_ms], |row| {
            let count = |i: usize| -> rusqlite::Result<u64> {
                Ok(u64::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
            };
            let source: Option<String> = row.get(9)?;
            Ok(Record {
                ts_ms: row.get(0)?,
                tool: row.get(1)?,
                task: row.get(2)?,
                requested_model: row.get(3)?,
                served_model: row.get(4)?,
                tokens: Tokens {
                    prompt_tokens: count(5)?,
                    completion_tokens: count(6)?,
                    total_tokens: count(7)?,
                },
                cost_usd: decimal_at(row, 8)?,
                cost_source: source.as_deref().and_then(source_of),
                saved_usd: decimal_at(row, 10)?,
                latency_ms: count(11)?,
                outcome: row.get(12)?,
                status: row.get(13)?,
                error: row.get(14)?,
                cached: row.get(15)?,
                client: row.get(16)?,
                session: row.get(17)?,
                call_id: row.get(18)?,
                provider: row.get(19)?,
            })
        })?;
        rows.collect()
    }

    /// The exact sum of the known costs since `since_ms`, of one session when `session` is
    /// given. Budgets read this before every call, so it is incremental: the sum for each
    /// `(since, session)` is kept with the last row id it has counted, and only newer rows are
    /// read. (Row ids grow in commit order: SQLite has one writer at a time.)
    pub fn spent(&self, since_ms: i64, session: Option<&str>) -> rusqlite::Result<Decimal> {
        let key = (since_ms, session.map(str::to_owned));
        let (counted, mut total) = self
            .sums
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied()
            .unwrap_or((0, Decimal::ZERO));
        let conn = self.lock();
        let last: i64 =
            conn.query_row("SELECT COALESCE(MAX(id), 0) FROM calls", [], |r| r.get(0))?;
        if last > counted {
            let costs: Vec<Option<Decimal>> = match session {
                Some(session) => conn
                    .prepare_cached(
                        "SELECT cost_usd FROM calls WHERE id > ?1 AND id <= ?2 AND ts_ms >= ?3
                         AND session = ?4 AND cost_usd IS NOT NULL",
                    )?
                    .query_map(params![counted, last, since_ms, session], |row| {
                        decimal_at(row, 0)
                    })?
                    .collect::<rusqlite::Result<_>>()?,
                None => conn
                    .prepare_cached(
                        "SELECT cost_usd FROM calls WHERE id > ?1 AND id <= ?2 AND ts_ms >= ?3
                         AND cost_usd IS NOT NULL",
                    )?
                    .query_map(params![counted, last, since_ms], |row| decimal_at(row, 0))?
                    .collect::<rusqlite::Result<_>>()?,
            };
            total += costs.into_iter().flatten().sum::<Decimal>();
        }
        drop(conn);
        let mut sums = self.sums.lock().unwrap_or_else(PoisonError::into_inner);
        if sums.len() >= MAX_SUMS {
            sums.clear();
        }
        sums.insert(key, (last.max(counted), total));
        Ok(total)
    }

    /// Runs `f` on a blocking thread (SQLite calls block; a busy lock may wait seconds).
    pub async fn blocking<T, F>(&self, f: F) -> rusqlite::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> rusqlite::Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .unwrap_or_else(|e| Err(task_failed(&format!("the ledger task failed: {e}"))))
    }

    /// The row count, for tests and diagnostics.
    pub fn count(&self) -> rusqlite::Result<u64> {
        let n: Option<i64> = self
            .lock()
            .query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))
            .optional()?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }
}

/// An error for a ledger task that ended without an outcome.
fn task_failed(why: &str) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::other(why.to_owned())))
}

/// Inserts `r` on `conn` with the cached INSERT statement.
fn insert_on(conn: &Connection, r: &Record) -> rusqlite::Result<()> {
    conn.prepare_cached(INSERT)?.execute(params![
        r.ts_ms,
        r.tool,
        r.task,
        r.requested_model,
        r.served_model,
        i64::try_from(r.tokens.prompt_tokens).unwrap_or(i64::MAX),
        i64::try_from(r.tokens.completion_tokens).unwrap_or(i64::MAX),
        i64::try_from(r.tokens.total_tokens).unwrap_or(i64::MAX),
        text_of(r.cost_usd),
        r.cost_source.map(|s| s.as_str()),
        text_of(r.saved_usd),
        i64::try_from(r.latency_ms).unwrap_or(i64::MAX),
        r.outcome,
        r.status,
        r.error,
        r.cached,
        r.client,
        r.session,
        r.call_id,
        r.provider,
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(ts_ms: i64, cost: Option<&str>) -> Record {
        Record {
            ts_ms,
            tool: "chat".into(),
            task: None,
            requested_model: "gpt-4.1".into(),
            served_model: Some("gpt-4.1".into()),
            tokens: Tokens {
                prompt_tokens: 10,
                completion_tokens: 20,
                total_tokens: 30,
            },
            cost_usd: cost.map(|c| Decimal::from_str(c).unwrap()),
            cost_source: Some(CostSource::Catalog),
            saved_usd: None,
            latency_ms: 5,
            outcome: "ok".into(),
            status: None,
            error: None,
            cached: false,
            client: Some("test 1.0".into()),
            session: Some("s1".into()),
            call_id: Some("c1".into()),
            provider: None,
        }
    }

    #[test]
    fn rows_round_trip_exactly() {
        let store = Store::in_memory().unwrap();
        let mut r = record(1_000, Some("0.0000004018"));
        r.saved_usd = Some(Decimal::from_str("0.0126000").unwrap());
        r.status = Some(429);
        store.insert(&r).unwrap();
        let back = store.rows(0, 2_000).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0], r);
        assert!(
            store.rows(1_001, 2_000).unwrap().is_empty(),
            "since is inclusive"
        );
        assert!(
            store.rows(0, 1_000).unwrap().is_empty(),
            "until is exclusive"
        );
    }

    #[test]
    fn spent_sums_exactly_by_time_and_session() {
        let store = Store::in_memory().unwrap();
        // 0.1 + 0.2 is not 0.3 in floating point; here it must be.
        store.insert(&record(10, Some("0.1"))).unwrap();
        store.insert(&record(20, Some("0.2"))).unwrap();
        store.insert(&record(30, None)).unwrap();
        let mut other = record(40, Some("1"));
        other.session = Some("s2".into());
        store.insert(&other).unwrap();
        assert_eq!(store.spent(0, Some("s1")).unwrap().to_string(), "0.3");
        assert_eq!(store.spent(15, Some("s1")).unwrap().to_string(), "0.2");
        assert_eq!(store.spent(0, None).unwrap().to_string(), "1.3");
        // Incremental: new rows (from this or another handle on the file) are added once.
        store.insert(&record(50, Some("0.05"))).unwrap();
        assert_eq!(store.spent(0, Some("s1")).unwrap().to_string(), "0.35");
        assert_eq!(store.spent(0, Some("s1")).unwrap().to_string(), "0.35");
        assert_eq!(store.spent(0, None).unwrap().to_string(), "1.35");
        assert_eq!(store.spent(45, None).unwrap().to_string(), "0.05");
    }

    #[test]
    fn spend_written_by_another_process_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.db");
        let (a, b) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
        a.insert(&record(1, Some("0.1"))).unwrap();
        assert_eq!(b.spent(0, None).unwrap().to_string(), "0.1");
        a.insert(&record(2, Some("0.2"))).unwrap();
        b.insert(&record(3, Some("0.4"))).unwrap();
        assert_eq!(b.spent(0, None).unwrap().to_string(), "0.7");
        assert_eq!(a.spent(0, None).unwrap().to_string(), "0.7");
    }

    #[test]
    fn a_file_is_created_migrated_once_and_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/usage.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        store.insert(&record(1, Some("0.5"))).unwrap();
        drop(store);
        let again = Store::open(&path).unwrap();
        assert_eq!(again.count().unwrap(), 1);
        let mode: String = again
            .lock()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn many_processes_opening_a_new_file_at_once_all_succeed() {
        // Connections in separate threads behave like separate processes to SQLite's locks.
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("usage.db");
            let barrier = std::sync::Barrier::new(8);
            std::thread::scope(|s| {
                let opened: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            Store::open(&path).map(|st| st.insert(&record(1, Some("0.1"))))
                        })
                    })
                    .collect();
                for h in opened {
                    let r = h.join().unwrap();
                    assert!(matches!(r, Ok(Ok(()))), "round {round}: {r:?}");
                }
            });
            assert_eq!(Store::open(&path).unwrap().count().unwrap(), 8);
        }
    }

    /// A trigger that refuses rows for the model `bad`, to make one insert of a batch fail.
    fn refuse_bad_rows(store: &Store) {
        store
            .lock()
            .execute_batch(
                "CREATE TRIGGER refuse_bad BEFORE INSERT ON calls
                 WHEN NEW.requested_model = 'bad' BEGIN SELECT RAISE(ABORT, 'bad row'); END;",
            )
            .unwrap();
    }

    #[test]
    fn a_batch_with_a_bad_row_commits_every_other_row() {
        let store = Store::in_memory().unwrap();
        refuse_bad_rows(&store);
        let mut bad = record(2, Some("0.2"));
        bad.requested_model = "bad".into();
        let batch: Vec<Job> = [record(1, Some("0.1")), bad, record(3, Some("0.3"))]
            .into_iter()
            .map(|r| (r, oneshot::channel().0))
            .collect();
        let outcomes = writer::commit_batch(&mut store.lock(), &batch);
        let ok: Vec<bool> = outcomes.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [true, false, true]);
        assert_eq!(store.count().unwrap(), 2);
        assert_eq!(store.spent(0, None).unwrap().to_string(), "0.4");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_records_are_all_committed_before_they_return() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.db");
        let store = Store::open(&path).unwrap();
        refuse_bad_rows(&store);
        let calls = (0..200i64).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut r = record(i, Some("0.01"));
                if i == 7 {
                    r.requested_model = "bad".into();
                }
                store.record(r).await
            })
        });
        let outcomes = futures::future::join_all(calls).await;
        for (i, o) in outcomes.into_iter().enumerate() {
            assert_eq!(o.unwrap().is_ok(), i != 7, "row {i}");
        }
        // Another connection (as another process would) sees every committed row at once.
        let other = Store::open(&path).unwrap();
        assert_eq!(other.count().unwrap(), 199);
        assert_eq!(other.spent(0, None).unwrap().to_string(), "1.99");
    }

    #[test]
    fn a_version_1_file_is_migrated_and_its_rows_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO calls (ts_ms, tool, requested_model, outcome, cost_usd)
                 VALUES (5, 'chat', 'gpt-4.1', 'ok', '0.25')",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let mut with_provider = record(6, Some("0.5"));
        with_provider.provider = Some("local".into());
        store.insert(&with_provider).unwrap();
        let rows = store.rows(0, 10).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].provider, None, "an old row has no provider");
        assert_eq!(rows[0].cost_usd.unwrap().to_string(), "0.25");
        assert_eq!(rows[1].provider.as_deref(), Some("local"));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = format!("{:#}", Store::open(&path).unwrap_err());
        assert!(e.contains("schema version is 99"), "{e}");
    }
}
