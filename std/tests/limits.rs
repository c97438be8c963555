//! Limits are reported as `QuotaExceeded`, with the core's error inside. Alone in its binary:
//! it fills the process's table of bases watching one signal.

use std::io;

use eventop::{Base, Error, Resource};
use eventop_core::sys::signal::MAX_BASES;

#[test]
fn one_base_too_many_on_a_signal_is_quota_exceeded() -> io::Result<()> {
    let sig = libc::SIGUSR1;
    let mut bases = Vec::new();
    for _ in 0..MAX_BASES {
        let mut base = Base::<()>::new()?;
        base.new_signal(sig, |_, _, _, _| {})?;
        bases.push(base);
    }
    let mut extra = Base::<()>::new()?;
    // Pending at creation: the creation is refused.
    let e = extra
        .new_signal(sig, |_, _, _, _| {})
        .expect_err("one base too many");
    assert_eq!(e.kind(), io::ErrorKind::QuotaExceeded, "{e}");
    assert!(e.to_string().contains("signal map is full"), "{e}");
    assert!(matches!(e, Error::Full(Resource::SignalMap)), "{e:?}");
    let e = io::Error::from(e);
    let inner = e.get_ref().and_then(|e| e.downcast_ref::<Error>());
    assert!(matches!(inner, Some(&Error::Full(Resource::SignalMap))));
    // Room again once one of the others stops watching.
    drop(bases.pop());
    extra.new_signal(sig, |_, _, _, _| {})?;
    Ok(())
}
