//! The appender's PostgreSQL connection, on a thread of its own (decision 0027).
//!
//! A batch holds the chain's head row locked from its `SELECT … FOR UPDATE` to its `COMMIT`, and
//! every replica's appends wait for that lock: the time it is held bounds the audit rate of the
//! whole deployment. On the request runtime, each of the batch's round trips woke the appender
//! task into a run queue shared with every HTTP connection; under load that wait, not
//! PostgreSQL, was most of the time the lock was held. Here the transaction runs on a
//! current-thread runtime on a dedicated thread with a connection of its own, so each answer
//! from PostgreSQL is taken up at once. The thread holds that connection itself, outside any
//! pool (decision 0030).

use std::{thread, time::Instant};

use sqlx::{
    Connection,
    postgres::{PgConnectOptions, PgConnection},
};
use tokio::sync::{mpsc, oneshot};

use crate::{
    audit::entry::Entry,
    store::{StoreError, audit::BatchOutcome},
};

type Answer = Result<BatchOutcome, StoreError>;

enum Job {
    Append(Vec<Entry>, oneshot::Sender<Answer>),
    Close(oneshot::Sender<()>),
}

/// The handle to the appender's thread. Cheap to clone; the thread ends when every clone is
/// dropped or [`PgBatchWriter::close`] is called.
#[derive(Debug, Clone)]
pub(super) struct PgBatchWriter {
    jobs: mpsc::Sender<Job>,
}

impl PgBatchWriter {
    /// Starts the thread. Its connection is made at the first batch, tested when it sat idle,
    /// and made again after a failure.
    pub(super) fn start(options: PgConnectOptions) -> Result<PgBatchWriter, StoreError> {
        let unavailable = |_| StoreError::Unavailable("the audit writer did not start".to_owned());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(unavailable)?;
        let (jobs, mut queue) = mpsc::channel::<Job>(1);
        thread::Builder::new()
            .name("sluse-pg-append".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut link = Link::new(options.application_name("sluse-appender"));
                    while let Some(job) = queue.recv().await {
                        match job {
                            Job::Append(entries, reply) => {
                                let _ = reply.send(link.append(entries).await);
                            }
                            Job::Close(done) => {
                                link.close().await;
                                let _ = done.send(());
                                return;
                            }
                        }
                    }
                    link.close().await;
                });
            })
            .map_err(unavailable)?;
        Ok(PgBatchWriter { jobs })
    }

    /// Appends `entries` in one transaction on the writer's thread.
    pub(super) async fn append(&self, entries: Vec<Entry>) -> Answer {
        let gone = || StoreError::Unavailable("the audit writer has stopped".to_owned());
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Append(entries, reply))
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Closes the writer's connection; later appends fail.
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Job::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

/// The appender's one connection, held by its thread rather than a pool: a pool would test it
/// with a round trip each time a batch gives it back, and the next batch waited for that.
struct Link {
    options: PgConnectOptions,
    /// The connection, and when its last batch ended.
    conn: Option<(PgConnection, Instant)>,
}

impl Link {
    fn new(options: PgConnectOptions) -> Link {
        Link {
            options,
            conn: None,
        }
    }

    /// Appends `entries` in one transaction. The batch runs as a task, so that a panic fails this
    /// batch, not the thread and with it every later one. After any failure the connection is
    /// dropped (which ends its transaction, if one is open) and the next batch makes a new one.
    async fn append(&mut self, entries: Vec<Entry>) -> Answer {
        let mut conn = self.ready().await?;
        let done = tokio::spawn(async move {
            let appended = super::audit::append_entries(&mut conn, entries).await;
            (conn, appended)
        })
        .await;
        match done {
            Ok((conn, Ok(appended))) => {
                self.conn = Some((conn, Instant::now()));
                Ok(appended)
            }
            Ok((_, Err(error))) => Err(error),
            Err(_) => Err(StoreError::Unavailable(
                "the audit append failed".to_owned(),
            )),
        }
    }

    /// The connection: the one held, if it is fresh or still answers, or a new one. One that sat
    /// idle for a while is tested first, as the pools test theirs, so a restart of the database
    /// between two batches costs neither of them.
    async fn ready(&mut self) -> Result<PgConnection, StoreError> {
        if let Some((mut conn, last)) = self.conn.take()
            && (last.elapsed() < super::IDLE_BEFORE_PING || conn.ping().await.is_ok())
        {
            return Ok(conn);
        }
        let connect = PgConnection::connect_with(&self.options);
        match tokio::time::timeout(super::ACQUIRE_TIMEOUT, connect).await {
            Ok(conn) => Ok(conn?),
            Err(_) => Err(StoreError::Unavailable(
                "the database did not answer in time".to_owned(),
            )),
        }
    }

    async fn close(&mut self) {
        if let Some((conn, _)) = self.conn.take() {
            let _ = conn.close().await;
        }
    }
}
