//! `Base::block_on` (feature `block-on`): a future driven by the loop, woken from a callback or
//! from another thread, with the loop's callbacks running meanwhile.
#![cfg(feature = "block-on")]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use eventop::{Base, Result, TimeoutAction};

/// A one-shot value with the waker of whoever waits for it.
#[derive(Default)]
struct Slot {
    value: Option<u32>,
    waker: Option<Waker>,
    polls: u32,
}

fn send(slot: &Mutex<Slot>, v: u32) {
    let mut s = slot.lock().unwrap();
    s.value = Some(v);
    if let Some(w) = s.waker.take() {
        w.wake();
    }
}

struct Receive(Arc<Mutex<Slot>>);

impl Future for Receive {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut s = self.0.lock().unwrap();
        s.polls += 1;
        match s.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[test]
fn a_callback_completes_the_future_and_callbacks_run_meanwhile() -> Result<()> {
    let mut base: Base<u32> = Base::new()?;
    let slot = Arc::new(Mutex::new(Slot::default()));
    let s = slot.clone();
    base.new_timer(Duration::from_millis(1), move |_, ticks, _| {
        *ticks += 1;
        if *ticks < 5 {
            return TimeoutAction::ToDuration(Duration::from_millis(1));
        }
        send(&s, *ticks);
        TimeoutAction::Drop
    })?;
    let mut ticks = 0;
    let out = base.block_on(&mut ticks, async { Receive(slot.clone()).await * 2 })?;
    assert_eq!((out, ticks), (10, 5));
    assert_eq!(
        slot.lock().unwrap().polls,
        2,
        "polled once, then once when woken"
    );
    Ok(())
}

#[test]
fn another_thread_completes_the_future() -> Result<()> {
    let mut base: Base = Base::new()?;
    let slot = Arc::new(Mutex::new(Slot::default()));
    let s = slot.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        send(&s, 7);
    });
    // No event pending at all: the loop waits for the wake.
    let out = base.block_on(&mut (), Receive(slot))?;
    assert_eq!(out, 7);
    t.join().unwrap();
    assert_eq!(base.block_on(&mut (), async { 3 })?, 3, "a ready future");
    Ok(())
}
