//! Many cores, one port: a base per thread, each accepting connections, three ways.
//!
//! - `shared`: one listening socket watched by every base. Each connection wakes every base
//!   (the thundering herd); all but one find nothing to accept (`EAGAIN`).
//! - `exclusive`: the same, with [`Interest::EXCLUSIVE`]: each connection wakes one base.
//! - `reuseport`: one `SO_REUSEPORT` listener per base; the kernel spreads the connections.
//!
//! Each callback accepts one connection (the event is level-triggered: it fires again while more
//! wait), so an `accept` that fails with `EAGAIN` is a wakeup that found nothing. The main thread
//! makes the connections over 127.0.0.1 and prints, for each way, the `accept` calls that failed
//! with `EAGAIN` per connection.
//!
//! Run: `cargo run --release -p eventop --example reuseport -- [BASES] [CONNECTS] [WAY]`
//! (defaults: 8 bases, 10000 connections, every way); `EVENT_IO_URING=1` runs it on io_uring.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use eventop::{Base, Interest, Mode};

/// Give up (and fail) after this long: the example must end even if a connection is lost.
const LIMIT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    eagain: AtomicUsize,
}

fn main() -> eventop::Result<()> {
    let mut args = std::env::args().skip(1);
    let bases: usize = args.next().map_or(Ok(8), |a| a.parse()).map_err(invalid)?;
    let connects: usize = args
        .next()
        .map_or(Ok(10_000), |a| a.parse())
        .map_err(invalid)?;
    let ways: Vec<String> = match args.next() {
        Some(w) => vec![w],
        None => ["shared", "exclusive", "reuseport"]
            .map(String::from)
            .to_vec(),
    };
    println!("{bases} bases, {connects} connections over 127.0.0.1");
    for way in &ways {
        let (backend, c, took) = run(way, bases, connects)?;
        let eagain = c.eagain.load(Relaxed);
        println!(
            "{way:>9} on {backend}: {} accepted, {eagain} accept calls failed with EAGAIN \
             ({:.1} % of connections), {:.0} ms",
            c.accepted.load(Relaxed),
            100.0 * eagain as f64 / connects as f64,
            took.as_secs_f64() * 1e3,
        );
    }
    Ok(())
}

/// One way: `bases` threads with a base each, `connects` connections; the counts.
fn run(
    way: &str,
    bases: usize,
    connects: usize,
) -> io::Result<(&'static str, Arc<Counts>, Duration)> {
    let shared = match way {
        "shared" | "exclusive" => Some(Arc::new(listen(None)?)),
        "reuseport" => None,
        _ => return Err(invalid(format!("unknown way {way:?}"))),
    };
    let exclusive = way == "exclusive";
    let counts = Arc::new(Counts::default());
    let mut port = shared.as_ref().map(|l| l.local_addr()).transpose()?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut threads = Vec::new();
    for _ in 0..bases {
        let listener = match &shared {
            Some(l) => l.clone(),
            None => {
                let l = Arc::new(listen(port)?);
                port = Some(l.local_addr()?);
                l
            }
        };
        let (counts, ready_tx) = (counts.clone(), ready_tx.clone());
        threads.push(thread::spawn(move || -> eventop::Result<()> {
            let mut base: Base = Base::new()?;
            let mut interest = Interest::READ;
            if exclusive {
                interest |= Interest::EXCLUSIVE;
            }
            let c = counts.clone();
            base.new_io(
                listener,
                interest,
                Mode::Level,
                move |base, _, _, _, listener| match listener.accept() {
                    Ok(_) => {
                        if c.accepted.fetch_add(1, Relaxed) + 1 == connects {
                            base.exit();
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        c.eagain.fetch_add(1, Relaxed);
                    }
                    Err(_) => {}
                },
            )?;
            let _ = ready_tx.send((base.backend_name(), base.waker()?));
            base.run(&mut ())?;
            Ok(())
        }));
    }
    let mut wakers = Vec::new();
    let mut backend = "";
    for _ in 0..bases {
        let (name, waker) = ready_rx
            .recv_timeout(LIMIT)
            .map_err(|_| io::Error::other("a base did not start"))?;
        backend = name;
        wakers.push(waker);
    }
    let to = port.ok_or_else(|| io::Error::other("no port"))?;
    let start = Instant::now();
    for _ in 0..connects {
        let s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
        // A reset at close, so 10,000 connections leave no TIME_WAIT behind.
        linger_zero(&s);
    }
    while counts.accepted.load(Relaxed) < connects && start.elapsed() < LIMIT {
        thread::sleep(Duration::from_millis(1));
    }
    let took = start.elapsed();
    for w in &wakers {
        let _ = w.schedule(|base, _| base.exit());
    }
    for t in threads {
        t.join()
            .map_err(|_| io::Error::other("a base panicked"))??;
    }
    if counts.accepted.load(Relaxed) < connects {
        return Err(io::Error::other(format!(
            "{way}: only {} of {connects} connections accepted in {LIMIT:?}",
            counts.accepted.load(Relaxed)
        )));
    }
    Ok((backend, counts, took))
}

/// A non-blocking listener on 127.0.0.1 with `SO_REUSEPORT`, on `at`'s port or a free one.
fn listen(at: Option<SocketAddr>) -> io::Result<TcpListener> {
    // SAFETY: a plain socket(2); the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new socket nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    setsockopt(&sock, libc::SO_REUSEPORT, 1)?;
    let port = at.map_or(0, |a| a.port());
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_in of `len` bytes.
    if unsafe { libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a bound socket of ours.
    if unsafe { libc::listen(fd, 4096) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let l = TcpListener::from(sock);
    l.set_nonblocking(true)?;
    Ok(l)
}

fn setsockopt(fd: &impl AsRawFd, opt: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` is a c_int of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn linger_zero(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `l` is a valid linger of the size given.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, e.to_string())
}
