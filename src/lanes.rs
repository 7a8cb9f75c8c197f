//! Fixed pools of threads fed by bounded queues, for the blocking work the async workers hand
//! off (database reads, argon2).
//!
//! Tokio's blocking pool starts a thread for every task that finds none idle, up to 512 per
//! runtime, and actix runs one runtime per worker: 500 clients reading at once grew the server
//! to 430 threads and 700 MB while only eight database connections existed to serve them. A
//! lane runs at most as many closures at once as it has threads, keeps the rest in a queue
//! (a boxed closure each), and refuses work past the queue's depth with
//! `Error::Unavailable`, which every surface renders as 503 with `Retry-After`.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

/// How long a refused client is told to wait before trying again, in seconds.
const RETRY_AFTER_SECONDS: u32 = 1;

/// A handle to one lane; clones share it. The threads stop once the last handle is dropped
/// and the queue is empty.
#[derive(Clone)]
pub struct Lane {
    handle: Arc<Handle>,
}

/// Dropped with the last `Lane` clone; tells the threads to finish.
struct Handle {
    shared: Arc<Shared>,
}

struct Shared {
    name: &'static str,
    /// What a refused caller is told, e.g. "too many reads are waiting".
    busy: &'static str,
    queue: Mutex<Queue>,
    ready: Condvar,
    depth: AtomicUsize,
}

struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl Lane {
    /// Starts `threads` threads named `name-N`. At most `depth` closures wait for a thread;
    /// more are refused with `busy` as the 503's message.
    pub fn start(
        name: &'static str,
        threads: usize,
        depth: usize,
        busy: &'static str,
    ) -> Result<Lane> {
        let shared = Arc::new(Shared {
            name,
            busy,
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
            depth: AtomicUsize::new(depth),
        });
        for n in 0..threads.max(1) {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || shared.work())
                .map_err(|e| Error::internal(format!("cannot start {name} thread: {e}")))?;
        }
        Ok(Lane {
            handle: Arc::new(Handle { shared }),
        })
    }

    /// Changes how many closures may wait; those already waiting stay.
    pub fn set_depth(&self, depth: usize) {
        self.handle.shared.depth.store(depth, Ordering::Relaxed);
    }

    /// Runs `f` on one of the lane's threads and waits for its result without blocking the
    /// caller's thread. Refused at once when the queue is full.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let shared = &self.handle.shared;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let name = shared.name;
        let job: Job = Box::new(move || {
            // The caller has gone (its client disconnected): its read need not take a
            // connection from those still waiting.
            if tx.is_closed() {
                return;
            }
            let out = catch_unwind(AssertUnwindSafe(f))
                .unwrap_or_else(|_| Err(Error::internal(format!("a {name} task panicked"))));
            let _ = tx.send(out);
        });
        {
            let mut queue = shared.lock();
            if queue.jobs.len() >= shared.depth.load(Ordering::Relaxed) {
                return Err(Error::unavailable(
                    format!("the server is busy: {}; try again shortly", shared.busy),
                    Some(RETRY_AFTER_SECONDS),
                ));
            }
            queue.jobs.push_back(job);
        }
        shared.ready.notify_one();
        rx.await
            .map_err(|_| Error::internal(format!("the {name} threads stopped")))?
    }

    /// Closures waiting for a thread right now.
    pub fn waiting(&self) -> usize {
        self.handle.shared.lock().jobs.len()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

impl Shared {
    /// A panic inside a job is caught in `run`, so the lock is never poisoned by one; should it
    /// be anyway, the queue itself is still consistent (each operation is a single push or pop).
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn work(&self) {
        loop {
            let job = {
                let mut queue = self.lock();
                loop {
                    if let Some(job) = queue.jobs.pop_front() {
                        break job;
                    }
                    if queue.closed {
                        return;
                    }
                    queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
                }
            };
            job();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn past_the_depth_work_is_refused_with_retry_after() {
        let lane = Lane::start("test-lane", 1, 1, "too much test work").unwrap();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        // One closure holds the only thread, a second waits in the queue...
        let busy = {
            let (lane, gate) = (lane.clone(), Arc::clone(&gate));
            std::thread::spawn(move || {
                block_on(lane.run(move || {
                    started_tx.send(()).unwrap();
                    gate.lock().unwrap().recv().unwrap();
                    Ok(1)
                }))
            })
        };
        started.recv().unwrap();
        let queued = {
            let lane = lane.clone();
            std::thread::spawn(move || block_on(lane.run(|| Ok(2))))
        };
        while lane.waiting() == 0 {
            std::thread::yield_now();
        }
        // ...so a third is refused.
        let refused = block_on(lane.run(|| Ok(3))).unwrap_err();
        assert_eq!(refused.retry_after(), Some(1));
        assert!(
            refused.to_string().contains("too much test work"),
            "{refused}"
        );
        release.send(()).unwrap();
        assert_eq!(busy.join().unwrap().unwrap(), 1);
        assert_eq!(queued.join().unwrap().unwrap(), 2);
        assert_eq!(block_on(lane.run(|| Ok(4))).unwrap(), 4);
    }

    #[test]
    fn work_whose_caller_has_gone_is_skipped() {
        let lane = Lane::start("test-lane", 1, 4, "test").unwrap();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let busy = {
            let lane = lane.clone();
            std::thread::spawn(move || {
                block_on(lane.run(move || {
                    started_tx.send(()).unwrap();
                    gate.recv().unwrap();
                    Ok(())
                }))
            })
        };
        started.recv().unwrap();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            // Queued, then abandoned before a thread took it.
            let ran = Arc::clone(&ran);
            let mut abandoned = Box::pin(lane.run(move || {
                ran.store(true, Ordering::SeqCst);
                Ok(())
            }));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(std::future::Future::poll(abandoned.as_mut(), &mut cx).is_pending());
            assert_eq!(lane.waiting(), 1);
        }
        release.send(()).unwrap();
        busy.join().unwrap().unwrap();
        block_on(lane.run(|| Ok(()))).unwrap();
        assert!(!ran.load(Ordering::SeqCst));
    }

    #[test]
    fn a_panicking_closure_is_an_internal_error_and_the_thread_survives() {
        let lane = Lane::start("test-lane", 1, 4, "test").unwrap();
        let e = block_on(lane.run(|| -> Result<()> { panic!("boom") })).unwrap_err();
        assert!(matches!(e, Error::Internal(_)), "{e}");
        assert_eq!(block_on(lane.run(|| Ok(5))).unwrap(), 5);
    }
}
