//! A thread for work that may wait: it runs jobs one at a time at a lower CPU priority than the
//! request threads (decision 0028).
//!
//! The lookup indexer's pass is derived work: nothing waits for it but a DPO's search, which is
//! complete without it (searches scan the chain past the indexer's mark). On a blocking-pool
//! thread a pass took a core for about 12 ms ten times a second under load, and requests waited
//! behind it. At a higher nice value the scheduler gives the core to request threads first; the
//! pass takes what they leave, and the lookups trail the chain a little further under full load.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::mpsc,
    thread,
};

use tokio::sync::oneshot;

/// The nice value of the thread: the CPU share of a nice-0 thread is about three times its own.
const NICE: i32 = 5;

type Job = Box<dyn FnOnce() + Send>;

/// The handle to the thread. Cheap to clone; the thread ends when every clone is dropped.
#[derive(Debug, Clone)]
pub(super) struct LowPriority {
    jobs: mpsc::Sender<Job>,
}

/// The thread has stopped, or the job panicked.
#[derive(Debug)]
pub(super) struct Stopped;

impl LowPriority {
    /// Starts a thread named `name`.
    pub(super) fn start(name: &str) -> std::io::Result<LowPriority> {
        let (jobs, queue) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                lower_priority();
                for job in queue {
                    // A job that panics loses its answer (its caller gets `Stopped`); the
                    // thread goes on with the next.
                    let _ = catch_unwind(AssertUnwindSafe(job));
                }
            })?;
        Ok(LowPriority { jobs })
    }

    /// Runs `job` on the thread and returns its result.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(job());
            }))
            .map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }
}

/// Raises the calling thread's nice value by [`NICE`] (Linux applies `setpriority` on a thread id
/// to that thread alone). Where that is refused, the thread runs at its creator's priority.
fn lower_priority() {
    let thread = rustix::thread::gettid();
    let lowered = rustix::process::getpriority_process(Some(thread)).and_then(|current| {
        rustix::process::setpriority_process(Some(thread), (current + NICE).min(19))
    });
    if let Err(e) = lowered {
        tracing::debug!(error = %e, "a low-priority thread runs at normal priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[tokio::test]
    async fn jobs_run_below_the_callers_priority_and_a_panic_stops_only_its_job() {
        let thread = LowPriority::start("low-priority-test").unwrap();
        let caller = nice_of_this_thread();
        let nice = thread.run(nice_of_this_thread).await.unwrap();
        assert_eq!(nice, (caller + NICE).min(19), "the job's thread is niced");
        assert_eq!(nice_of_this_thread(), caller, "the caller's thread is not");

        let panicked = thread.run(|| panic!("a job that fails")).await;
        assert!(matches!(panicked, Err(Stopped)));
        assert_eq!(thread.run(|| 42).await.unwrap(), 42, "the thread goes on");
    }
}
