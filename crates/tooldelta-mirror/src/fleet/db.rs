//! The latest report of every workstation, in an embedded SQLite database
//! (`STORE/fleet/reports.sqlite3`): one row per workstation, replaced only
//! by a report that is not older, so batches forwarded out of order never
//! move a workstation back.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, params};
use tooldelta_core::fleet::WorkstationReport;

/// A stored report and when this mirror received it.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub report: WorkstationReport,
    /// Unix seconds.
    pub received_unix: i64,
}

/// Why the report database failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetDbError {
    /// SQLite refused (damaged file, disk full, locked past the timeout).
    #[error("fleet database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// Its folder could not be created.
    #[error("fleet database folder {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The report database. Blocking: call from `spawn_blocking`.
#[derive(Debug)]
pub(crate) struct FleetDb {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl FleetDb {
    /// Opens (creating) the database under the store root.
    pub fn open(store_root: &Path) -> Result<Self, FleetDbError> {
        let dir = store_root.join("fleet");
        let path = dir.join("reports.sqlite3");
        let err = |source| FleetDbError::Sqlite {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(|source| FleetDbError::Io {
            path: dir.clone(),
            source,
        })?;
        let conn = Connection::open(&path).map_err(err)?;
        // WAL: readers (the page, /metrics) never wait for a writer.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS reports (
                workstation_id TEXT PRIMARY KEY,
                reported_unix INTEGER NOT NULL,
                received_unix INTEGER NOT NULL,
                body TEXT NOT NULL
            );",
        )
        .map_err(err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn err(&self, source: rusqlite::Error) -> FleetDbError {
        FleetDbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores a checked report unless a newer one of the same workstation is
    /// already there; `true` when stored.
    pub fn upsert(&self, report: &WorkstationReport, now_unix: i64) -> Result<bool, FleetDbError> {
        let reported = reported_unix(report).min(now_unix);
        let body = serde_json::to_string(report).expect("reports serialize");
        let conn = self.conn.lock().expect("fleet db lock");
        let changed = conn
            .execute(
                "INSERT INTO reports (workstation_id, reported_unix, received_unix, body)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(workstation_id) DO UPDATE SET
                   reported_unix = excluded.reported_unix,
                   received_unix = excluded.received_unix,
                   body = excluded.body
                 WHERE excluded.reported_unix >= reports.reported_unix",
                params![report.workstation_id, reported, now_unix, body],
            )
            .map_err(|e| self.err(e))?;
        Ok(changed > 0)
    }

    /// Every stored report, sorted by workstation id.
    pub fn all(&self) -> Result<Vec<Stored>, FleetDbError> {
        let conn = self.conn.lock().expect("fleet db lock");
        let mut stmt = conn
            .prepare_cached("SELECT body, received_unix FROM reports ORDER BY workstation_id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (body, received_unix) = row.map_err(|e| self.err(e))?;
            // Rows were checked before they were stored; one that no longer
            // parses (a newer schema, local damage) is skipped, not fatal.
            if let Ok(report) = serde_json::from_str(&body) {
                out.push(Stored {
                    report,
                    received_unix,
                });
            }
        }
        Ok(out)
    }

    /// How many workstations have a report.
    #[cfg(test)]
    pub fn count(&self) -> Result<u64, FleetDbError> {
        let conn = self.conn.lock().expect("fleet db lock");
        conn.query_row("SELECT COUNT(*) FROM reports", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0).unsigned_abs())
            .map_err(|e| self.err(e))
    }
}

/// The report's own time, Unix seconds (0 when unparsable: `check` refuses those).
pub(crate) fn reported_unix(report: &WorkstationReport) -> i64 {
    report
        .reported_at
        .parse::<jiff::Timestamp>()
        .map_or(0, jiff::Timestamp::as_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(at: &str, host: &str) -> WorkstationReport {
        WorkstationReport {
            workstation_id: "ws-1".into(),
            hostname: host.into(),
            reported_at: at.into(),
            tools: Vec::new(),
            free_disk_bytes: None,
            client_version: None,
        }
    }

    #[test]
    fn the_latest_report_per_workstation_wins_whatever_the_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = FleetDb::open(dir.path()).unwrap();
        let now = jiff::Timestamp::now().as_second();
        assert!(
            db.upsert(&report("2026-01-02T00:00:00Z", "new"), now)
                .unwrap()
        );
        assert!(
            !db.upsert(&report("2026-01-01T00:00:00Z", "old"), now)
                .unwrap()
        );
        let all = db.all().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].report.hostname, "new");
        drop(db);
        // Durable across a restart.
        let db = FleetDb::open(dir.path()).unwrap();
        assert_eq!(db.count().unwrap(), 1);
    }
}
