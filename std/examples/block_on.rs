//! A future driven by the loop (feature `block-on`): the loop runs its callbacks while it waits
//! for the future, and a callback completes it.
//!
//! Run: `cargo run -p eventop --features block-on --example block_on`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use eventop::{Base, TimeoutAction};

/// A value handed from a callback to a future: a one-shot channel in a few lines.
#[derive(Default)]
struct Shared {
    value: Option<u32>,
    waker: Option<Waker>,
}

struct Receive(Arc<Mutex<Shared>>);

impl Future for Receive {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut shared = self.0.lock().unwrap();
        match shared.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                shared.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn main() -> eventop::Result<()> {
    let mut base = Base::<u32>::new()?;
    let shared = Arc::new(Mutex::new(Shared::default()));
    let sender = shared.clone();
    // A timer ticks three times, then sends the tick count to the future.
    base.new_timer(Duration::from_millis(2), move |_, ticks, _| {
        *ticks += 1;
        if *ticks < 3 {
            return TimeoutAction::ToDuration(Duration::from_millis(2));
        }
        let mut s = sender.lock().unwrap();
        s.value = Some(*ticks * 10);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
        TimeoutAction::Drop
    })?;
    let mut ticks = 0;
    let got = base.block_on(&mut ticks, async {
        let v = Receive(shared).await;
        v + 1
    })?;
    println!("the future got {got} after {ticks} ticks of the loop");
    assert_eq!((got, ticks), (31, 3));
    Ok(())
}
