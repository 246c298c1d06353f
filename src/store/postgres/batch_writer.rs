//! The appender's PostgreSQL connection, on a thread of its own (decision 0027).
//!
//! A batch holds the chain's head row locked from its `SELECT … FOR UPDATE` to its `COMMIT`, and
//! every replica's appends wait for that lock: the time it is held bounds the audit rate of the
//! whole deployment. On the request runtime, each of the batch's round trips woke the appender
//! task into a run queue shared with every HTTP connection; under load that wait, not
//! PostgreSQL, was most of the time the lock was held. Here the transaction runs on a
//! current-thread runtime on a dedicated thread with a connection of its own, so each answer
//! from PostgreSQL is taken up at once.

use std::thread;

use sqlx::postgres::PgConnectOptions;
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
    /// Starts the thread. Its connection is made at the first batch and made again after a
    /// failure, as the pool's are.
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
                    // One connection: the batches come one at a time from the one appender.
                    let pool = super::pool_options(1)
                        .connect_lazy_with(options.application_name("sluse-appender"));
                    while let Some(job) = queue.recv().await {
                        match job {
                            Job::Append(entries, reply) => {
                                // As a task, so that a panic fails this batch, not the thread and
                                // with it every later one.
                                let pool = pool.clone();
                                let appended = tokio::spawn(async move {
                                    super::audit::append_entries(&pool, entries).await
                                })
                                .await
                                .unwrap_or_else(|_| {
                                    Err(StoreError::Unavailable(
                                        "the audit append failed".to_owned(),
                                    ))
                                });
                                let _ = reply.send(appended);
                            }
                            Job::Close(done) => {
                                pool.close().await;
                                let _ = done.send(());
                                return;
                            }
                        }
                    }
                    pool.close().await;
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
