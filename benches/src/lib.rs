//! What every Rust contender shares: the workload's parameters, the socketpairs, a deterministic
//! PRNG for random timeouts, the event counter, a counting allocator and the report line.
//!
//! Each contender is a binary (`src/bin/bench_<name>.rs`) run as
//! `bench_<name> WORKLOAD [key=value ...]`; the C contenders (`c/*.c`) take the same arguments and
//! print the same line, so the driver (`src/bin/bench.rs`) treats them all alike. Workloads:
//!
//! - `chain`: `n` socketpairs, each with a persistent READ event; `active` bytes are written into
//!   pairs spread evenly, and each callback reads its byte and writes one to the next pair. Ends
//!   after `events` callbacks. `timeout=fixed` re-arms a 1 s timeout from every callback,
//!   `timeout=random` a random 10–11 s one. `form=block` is one run of the loop broken after
//!   `events`; `form=pass` one non-blocking pass (`ONCE|NONBLOCK`, or a zero-timeout wait) per turn.
//! - `cascade`: the chain with non-persistent events, each re-added by its own callback.
//! - `timers`: `timers` timers, each added with a random 10–11 s timeout, re-added with a random
//!   0–20 ms one, a quarter of them deleted, the rest fired.
//! - `setup`: `n` events created and registered, then `rounds` times: delete all, one pass, add
//!   all, one pass. Reports the heap bytes per registered idle event.
//! - `precision`: one 1 ms timer, re-added from its callback `timers` times. Reports how late
//!   each firing was against the time of its add (`p50=`, `p99=`, `max=` in ns) and how many
//!   fired early (`early=`). Wall-clock: run it on a quiet machine, one contender at a time.
//!
//! `backend=epoll|changelist|poll|select` picks the backend through the contender's own API
//! (`changelist`: epoll with libevent's changelist); a contender that cannot exits with 3.

use std::alloc::{GlobalAlloc, Layout, System};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Which workload to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Bytes passed along a ring of socketpairs by persistent events.
    Chain,
    /// The chain with non-persistent events re-added from their callbacks.
    Cascade,
    /// The timer lifecycle: add, re-add, a quarter deleted, the rest fired.
    Timers,
    /// Adding and deleting events; memory per registered event.
    Setup,
    /// A 1 ms timer re-added from its callback: how late it fires.
    Precision,
}

/// The timeout each chain callback re-arms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// None.
    None,
    /// 1 s.
    Fixed,
    /// 10 s plus a random fraction of a second (libev's benchmark's choice).
    Random,
}

/// How the loop is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// One blocking run, broken after the last event.
    Block,
    /// One non-blocking pass per turn until the last event.
    Pass,
}

/// The backend a contender selects (`backend=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// epoll, the default.
    Epoll,
    /// epoll with libevent's changelist.
    Changelist,
    /// poll(2).
    Poll,
    /// select(2).
    Select,
    /// io_uring (eventop's Rust contenders only: asked for as `EVENT_IO_URING=1` would).
    IoUring,
}

/// A workload and its parameters.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// The workload.
    pub workload: Workload,
    /// Socketpairs (`chain`, `cascade`, `setup`).
    pub n: usize,
    /// Bytes in flight (`chain`, `cascade`).
    pub active: usize,
    /// Callbacks to run (`chain`, `cascade`).
    pub events: u64,
    /// The timeout re-armed per event (`chain`).
    pub timeout: Timeout,
    /// How the loop is driven (`chain`, `cascade`).
    pub form: Form,
    /// Timers (`timers`).
    pub timers: usize,
    /// Delete-and-add rounds (`setup`).
    pub rounds: usize,
    /// The backend (`chain`, `cascade`, `setup`; the others on epoll).
    pub method: Method,
}

impl Params {
    /// Parses `WORKLOAD [key=value ...]` from the command line; exits with a message if it cannot.
    pub fn from_args() -> Params {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match Params::parse(&args) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}\nusage: CONTENDER chain|cascade|timers|setup|precision [n=N] [active=A] [events=M] [timeout=none|fixed|random] [form=block|pass] [timers=T] [rounds=R] [backend=epoll|changelist|poll|select|io_uring]");
                std::process::exit(2)
            }
        }
    }

    /// Parses the arguments after the program's name.
    pub fn parse(args: &[String]) -> Result<Params, String> {
        let workload = match args.first().map(String::as_str) {
            Some("chain") => Workload::Chain,
            Some("cascade") => Workload::Cascade,
            Some("timers") => Workload::Timers,
            Some("setup") => Workload::Setup,
            Some("precision") => Workload::Precision,
            other => return Err(format!("unknown workload {other:?}")),
        };
        let mut p = Params {
            workload,
            n: 1000,
            active: 1,
            events: 100_000,
            timeout: Timeout::None,
            form: Form::Block,
            timers: 100_000,
            rounds: 10,
            method: Method::Epoll,
        };
        for arg in &args[1..] {
            let (k, v) = arg.split_once('=').ok_or(format!("not key=value: {arg}"))?;
            let num = || v.parse::<u64>().map_err(|e| format!("{k}: {e}"));
            match k {
                "n" => p.n = num()? as usize,
                "active" => p.active = num()? as usize,
                "events" => p.events = num()?,
                "timers" => p.timers = num()? as usize,
                "rounds" => p.rounds = num()? as usize,
                "timeout" => {
                    p.timeout = match v {
                        "none" => Timeout::None,
                        "fixed" => Timeout::Fixed,
                        "random" => Timeout::Random,
                        _ => return Err(format!("unknown timeout {v}")),
                    }
                }
                "form" => {
                    p.form = match v {
                        "block" => Form::Block,
                        "pass" => Form::Pass,
                        _ => return Err(format!("unknown form {v}")),
                    }
                }
                "backend" => {
                    p.method = match v {
                        "epoll" => Method::Epoll,
                        "changelist" => Method::Changelist,
                        "poll" => Method::Poll,
                        "select" => Method::Select,
                        "io_uring" => Method::IoUring,
                        _ => return Err(format!("unknown backend {v}")),
                    }
                }
                _ => return Err(format!("unknown key {k}")),
            }
        }
        if p.n < 2 || p.active == 0 || p.active > p.n {
            return Err("need n >= 2 and 1 <= active <= n".into());
        }
        Ok(p)
    }

    /// For a contender with one backend, epoll: exits with 3 if another is asked for.
    pub fn epoll_only(&self, contender: &str) {
        if self.method != Method::Epoll {
            eprintln!("{contender}: epoll only");
            std::process::exit(3);
        }
    }

    /// The pairs the first bytes go into: `active` of them, spread evenly.
    pub fn starts(&self) -> impl Iterator<Item = usize> {
        let space = self.n / self.active;
        (0..self.active).map(move |i| i * space)
    }
}

/// `n` non-blocking, close-on-exec socketpairs: `.0` is watched, the previous pair writes `.1`.
/// Raises the limit on open files first if `n` needs it (the hard limit too, where allowed).
pub fn socketpairs(n: usize) -> Vec<(RawFd, RawFd)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit(2) to fill and setrlimit(2) to read.
    unsafe {
        let need = 2 * n as u64 + 64;
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < need {
            let want = libc::rlimit {
                rlim_cur: need,
                rlim_max: need.max(lim.rlim_max),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
    (0..n)
        .map(|_| {
            let mut sv = [0; 2];
            let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
            // SAFETY: `sv` has room for the two fds socketpair(2) writes.
            if unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, sv.as_mut_ptr()) } != 0 {
                let e = std::io::Error::last_os_error();
                eprintln!("socketpair: {e} (raise `ulimit -n`?)");
                std::process::exit(1);
            }
            (sv[0], sv[1])
        })
        .collect()
}

/// Reads the byte waiting on `from` (if any) and writes one to `to`: one link of the chain.
#[inline]
pub fn pass_byte(from: RawFd, to: RawFd) {
    let mut b = [0u8; 1];
    // SAFETY: `b` is valid for a 1-byte write.
    unsafe { libc::read(from, b.as_mut_ptr().cast(), 1) };
    // SAFETY: `b` is valid for a 1-byte read.
    unsafe { libc::write(to, b.as_ptr().cast(), 1) };
}

/// Writes the first byte into `fd`.
pub fn kick(fd: RawFd) {
    let b = [b'e'];
    // SAFETY: `b` is valid for a 1-byte read.
    unsafe { libc::write(fd, b.as_ptr().cast(), 1) };
}

static RNG: AtomicU64 = AtomicU64::new(0x2545_f491_4f6c_dd1d);

/// The next 64 bits of splitmix64, a deterministic PRNG: the same sequence in the C contenders
/// (`c/common.h`), so every contender draws the same timeouts.
#[inline]
pub fn random() -> u64 {
    let s = RNG.load(Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
    RNG.store(s, Relaxed);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random timeout of 10 s plus 0–999,999 µs.
#[inline]
pub fn long_timeout() -> Duration {
    Duration::from_micros(10_000_000 + random() % 1_000_000)
}

/// A random timeout of 0–19,999 µs.
#[inline]
pub fn short_timeout() -> Duration {
    Duration::from_micros(random() % 20_000)
}

/// The timeout a chain callback re-arms, drawn at random when `t` is `Random`.
#[inline]
pub fn chain_timeout(t: Timeout) -> Option<Duration> {
    match t {
        Timeout::None => None,
        Timeout::Fixed => Some(Duration::from_secs(1)),
        Timeout::Random => Some(long_timeout()),
    }
}

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static COUNT: AtomicU64 = AtomicU64::new(0);
static TARGET: AtomicU64 = AtomicU64::new(u64::MAX);
static HALF: AtomicU64 = AtomicU64::new(u64::MAX);
static MARK: AtomicU64 = AtomicU64::new(u64::MAX);
static HALF_ALLOCS: AtomicU64 = AtomicU64::new(0);
static END_ALLOCS: AtomicU64 = AtomicU64::new(0);
static TIMEOUTS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting allocations (reallocations included).
pub struct Counting;

// SAFETY: every call goes to `System` unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.store(ALLOCS.load(Relaxed) + 1, Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.store(ALLOCS.load(Relaxed) + 1, Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.store(ALLOCS.load(Relaxed) + 1, Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations so far.
pub fn allocs() -> u64 {
    ALLOCS.load(Relaxed)
}

/// Bytes the C heap has handed out (`mallinfo2()`: `uordblks` plus the mmapped `hblkhd`, chunk
/// overhead included): Rust's
/// allocator is glibc's malloc here, as the C contenders' is, so one measure serves all.
pub fn heap_bytes() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let m = unsafe { libc::mallinfo2() };
    m.uordblks + m.hblkhd
}

/// Counts callbacks towards `target`; the steady-state allocation count starts at half of it.
pub fn start_count(target: u64) {
    COUNT.store(0, Relaxed);
    TARGET.store(target, Relaxed);
    HALF.store(target / 2, Relaxed);
    MARK.store(if target / 2 > 0 { target / 2 } else { target }, Relaxed);
}

/// One callback ran; whether that was the last one wanted. One compare on the common path, so
/// the harness adds little to the contenders' counts.
#[inline]
pub fn tick() -> bool {
    let c = COUNT.load(Relaxed) + 1;
    COUNT.store(c, Relaxed);
    c >= MARK.load(Relaxed) && mark(c)
}

/// `tick` at the half-way mark or at the target.
#[cold]
#[inline(never)]
fn mark(c: u64) -> bool {
    let target = TARGET.load(Relaxed);
    if c == HALF.load(Relaxed) {
        HALF_ALLOCS.store(allocs(), Relaxed);
    }
    if c == target {
        END_ALLOCS.store(allocs(), Relaxed);
    }
    MARK.store(target, Relaxed);
    c >= target
}

/// The index after `i` in a ring of `n`.
#[inline]
pub fn next(i: usize, n: usize) -> usize {
    if i + 1 == n {
        0
    } else {
        i + 1
    }
}

/// Sets the count outright (for workloads that count without callbacks).
pub fn set_count(c: u64) {
    COUNT.store(c, Relaxed);
}

/// Whether the target is reached.
#[inline]
pub fn done() -> bool {
    COUNT.load(Relaxed) >= TARGET.load(Relaxed)
}

/// Callbacks counted so far.
pub fn count() -> u64 {
    COUNT.load(Relaxed)
}

/// A timeout fired (the chain's timeouts should not: their deadlines are far away).
pub fn timed_out() {
    TIMEOUTS.store(TIMEOUTS.load(Relaxed) + 1, Relaxed);
}

/// Times the run of `f`.
pub fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// The line the driver reads: `events=… ns=… steady_allocs=… steady_events=… bytes=… timeouts=…`.
/// `bytes` is the heap per registered event (`setup` only, else 0).
pub fn report(elapsed: Duration, bytes: f64) {
    let events = count();
    let half = HALF.load(Relaxed).min(events);
    let steady = if events >= TARGET.load(Relaxed) && half > 0 {
        END_ALLOCS.load(Relaxed) - HALF_ALLOCS.load(Relaxed)
    } else {
        0
    };
    println!(
        "events={events} ns={} steady_allocs={steady} steady_events={} bytes={bytes:.1} timeouts={}",
        elapsed.as_nanos(),
        events - half,
        TIMEOUTS.load(Relaxed)
    );
}

/// The period of the `precision` workload's timer.
pub const PRECISION_PERIOD: Duration = Duration::from_millis(1);

/// How late each firing of the `precision` workload's timer was, in ns (negative: early).
static LATENESS: std::sync::Mutex<Vec<i64>> = std::sync::Mutex::new(Vec::new());

/// A firing of the `precision` timer added at `armed`: records how late it is.
pub fn fired(armed: Instant) {
    let late = armed.elapsed().as_nanos() as i64 - PRECISION_PERIOD.as_nanos() as i64;
    LATENESS.lock().expect("lateness").push(late);
    tick();
}

/// The `precision` workload's line: the usual one, then the lateness's p50, p99 and max (ns)
/// and how many firings were early.
pub fn report_precision(elapsed: Duration) {
    let mut late = std::mem::take(&mut *LATENESS.lock().expect("lateness"));
    late.sort_unstable();
    let at = |p: usize| {
        late.get(late.len().saturating_sub(1) * p / 100)
            .copied()
            .unwrap_or(0)
    };
    let early = late.iter().filter(|&&l| l < 0).count();
    println!(
        "events={} ns={} steady_allocs=0 steady_events=0 bytes=0.0 timeouts=0 p50={} p99={} max={} early={early}",
        late.len(),
        elapsed.as_nanos(),
        at(50),
        at(99),
        at(100)
    );
}
