//! Real file descriptors for the tests: socketpairs, pipes, TCP on 127.0.0.1, dups, limits.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// A connected, non-blocking Unix stream socketpair.
pub fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).expect("nonblocking");
    b.set_nonblocking(true).expect("nonblocking");
    (a, b)
}

/// A pipe whose read end is non-blocking.
pub fn pipe() -> (std::io::PipeReader, std::io::PipeWriter) {
    let (r, w) = std::io::pipe().expect("pipe");
    set_nonblocking(r.as_raw_fd());
    (r, w)
}

/// Makes `fd` non-blocking.
pub fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on an fd the caller owns; F_GETFL/F_SETFL take and return plain ints.
    let rc = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK)
    };
    assert_eq!(
        rc,
        0,
        "fcntl(O_NONBLOCK): {}",
        std::io::Error::last_os_error()
    );
}

/// A connected TCP pair on 127.0.0.1: (client, accepted server side), both non-blocking.
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    client.set_nonblocking(true).expect("nonblocking");
    server.set_nonblocking(true).expect("nonblocking");
    (client, server)
}

/// Sets `SO_LINGER` to on with a zero timeout, so that closing `fd` resets the connection.
pub fn linger_zero(fd: RawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `l` is a valid `linger` that outlives the call, and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

/// A close-on-exec duplicate of `fd` numbered `min` or higher.
pub fn dup_at_least(fd: RawFd, min: RawFd) -> OwnedFd {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) duplicates an fd the caller owns; no memory is involved.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    assert!(
        new >= min,
        "F_DUPFD({min}): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `new` is a fresh fd that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(new) }
}

/// Makes the number `dst` (an fd the caller owns) refer to `src`'s open file, atomically closing
/// what `dst` referred to: "close it and get the same number back" without a window in which
/// another thread could take the number.
pub fn reuse_number(src: RawFd, dst: RawFd) {
    // SAFETY: both fds are open and owned by the caller; dup2 closes `dst`'s old file.
    let rc = unsafe { libc::dup2(src, dst) };
    assert_eq!(rc, dst, "dup2: {}", std::io::Error::last_os_error());
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid `rlimit` to write into.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid `rlimit`; raising the soft limit up to the hard one is allowed.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
        assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
    }
    // `rlim_t` is `u64` on Linux, but signed on FreeBSD (where `RLIM_INFINITY` is its maximum).
    #[allow(clippy::useless_conversion)]
    let soft = u64::try_from(lim.rlim_cur).unwrap_or(u64::MAX);
    soft
}

/// Writes one byte.
pub fn put(mut w: impl Write) {
    assert_eq!(w.write(b"x").expect("write"), 1);
}

/// Reads everything available (until `EAGAIN` or end of stream); returns how many bytes.
pub fn drain(mut r: impl Read) -> usize {
    let mut buf = [0u8; 65536];
    let mut total = 0;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return total,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Writes until the socket's buffer is full (`EAGAIN`); returns how many bytes.
pub fn fill(mut w: impl Write) -> usize {
    let buf = [0u8; 65536];
    let mut total = 0;
    loop {
        match w.write(&buf) {
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return total,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("write: {e}"),
        }
    }
}
