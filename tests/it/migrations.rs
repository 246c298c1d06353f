//! Migrations that move data, applied to a database that holds rows written under the schema
//! before them (the files themselves, as `psql` or `sqlite3` would run them).

use std::path::Path;

use sqlx::{Connection, Executor};

use crate::helpers::{Backend, create_pg_database, drop_pg_database};

/// The SQL of each migration of `backend` (`sqlite` or `postgres`) up to and including `last`,
/// in order.
fn migrations(backend: &str, last: u32) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.ends_with(".sql") && name[..4].parse::<u32>().unwrap() <= last
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

/// Inbox items as 0009 stored them: `(id, received_at)`, decided and committed in another order.
const BEFORE: [(&str, &str); 3] = [
    (
        "00000000-0000-7000-8000-000000000001",
        "2026-01-02T08:00:00.000000Z",
    ),
    (
        "00000000-0000-7000-8000-000000000002",
        "2026-01-01T08:00:00.000000Z",
    ),
    (
        "00000000-0000-7000-8000-000000000000",
        "2026-01-02T08:00:00.000000Z",
    ),
];
/// The order 0009 read them in: `(received_at, id)`.
const OLD_ORDER: [&str; 3] = [
    "00000000-0000-7000-8000-000000000002",
    "00000000-0000-7000-8000-000000000000",
    "00000000-0000-7000-8000-000000000001",
];
const AFTER: &str = "00000000-0000-7000-8000-00000000000a";

fn insert_item(id: &str, at: &str, sealed: &str) -> String {
    format!(
        "INSERT INTO inbox_items (id, notice_id, recipient_dept, kind, sealed, redacted, \
         disclosure_id, received_at) VALUES ('{id}', '{id}', 'youth-unit', 'absence', {sealed}, \
         '[]', 'd-{id}', '{at}')"
    )
}

/// Migrates to 0009, stores [`BEFORE`], migrates to 0010 and delivers [`AFTER`].
async fn migrate_inbox<C>(conn: &mut C, backend: &str, sealed: &str)
where
    for<'c> &'c mut C: Executor<'c>,
{
    for sql in migrations(backend, 9) {
        conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
            .await
            .unwrap();
    }
    for (id, at) in BEFORE {
        conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(insert_item(
            id, at, sealed,
        ))))
        .await
        .unwrap();
    }
    let tenth = migrations(backend, 10).pop().unwrap();
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(tenth)))
        .await
        .unwrap();
    // Delivered after the migration, stamped earlier than all: it still comes last.
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(insert_item(
        AFTER,
        "2025-01-01T08:00:00.000000Z",
        sealed,
    ))))
    .await
    .unwrap();
}

const INBOX: &str = "SELECT seq, CAST(id AS TEXT) FROM inbox_items WHERE recipient_dept = 'youth-unit' ORDER BY seq";

#[tokio::test]
async fn migration_0010_numbers_the_inbox_in_its_old_order_and_later_deliveries_after_it() {
    for backend in Backend::all() {
        let rows = match &backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                migrate_inbox(&mut conn, "sqlite", "x'00'").await;
                sqlx::query_as(INBOX).fetch_all(&mut conn).await.unwrap()
            }
            Backend::Postgres(admin) => {
                let (url, name) = create_pg_database(admin).await;
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                migrate_inbox(&mut conn, "postgres", "'\\x00'::bytea").await;
                let rows: Vec<(i64, String)> =
                    sqlx::query_as(INBOX).fetch_all(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                drop_pg_database(admin, &name).await;
                rows
            }
        };
        let ids: Vec<&str> = rows.iter().map(|(_, id)| id.as_str()).collect();
        let mut expected = OLD_ORDER.to_vec();
        expected.push(AFTER);
        assert_eq!(ids, expected, "{backend:?}");
        let seqs: Vec<i64> = rows.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4], "{backend:?}");
    }
}
