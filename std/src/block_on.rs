//! Futures driven by the loop (feature `block-on`): [`Base::block_on`].

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake};

use eventop_core::LoopFlags;

use crate::{Base, Result, Waker};

/// Wakes a future's task: marks it to be polled, and wakes the loop through the base's waker.
struct Task<D> {
    woken: AtomicBool,
    waker: Waker<D>,
}

impl<D> Wake for Task<D> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        // A base that is gone cannot be waiting.
        let _ = self.waker.wake();
    }
}

impl<D: 'static> Base<D> {
    /// Runs the loop, callbacks and all, until `future` completes, and returns its output. The
    /// future is polled in this thread whenever its waker is called (from a callback, another
    /// thread, anywhere): a callback can complete a future by waking it. The loop waits even
    /// with no event pending, so a future waiting for nothing never returns.
    pub fn block_on<F: Future>(&mut self, data: &mut D, future: F) -> Result<F::Output> {
        let task = Arc::new(Task {
            woken: AtomicBool::new(true),
            waker: self.waker()?,
        });
        let waker = std::task::Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if task.woken.swap(false, Ordering::Acquire) {
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    return Ok(out);
                }
                if task.woken.load(Ordering::Acquire) {
                    continue;
                }
            }
            self.run_with(LoopFlags::ONCE | LoopFlags::NO_EXIT_ON_EMPTY, data)?;
        }
    }
}
