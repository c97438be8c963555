//! Time bounds against hangs: a scenario that does not finish in time fails instead of spinning.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Runs `f` on a thread of its own and returns its result; panics (failing the test) if it has
/// not finished within `limit`. A hung thread is left behind; the failing test process ends it.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = worker.join();
            v
        }
        // The sender dropped without a value: `f` panicked; rethrow its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!("sent nothing yet returned"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung: not done within {limit:?}"),
    }
}
