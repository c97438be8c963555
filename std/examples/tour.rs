//! A tour of eventop in a few seconds: which backend this machine gets, a TCP echo server with
//! three clients, timers, a signal, and work handed to the loop from another thread.
//!
//! Run: `cargo run --release -p eventop --example tour`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use eventop::{Base, Builder, Event, What};

const CLIENTS: usize = 3;
const MESSAGES: usize = 5;

fn main() -> std::io::Result<()> {
    let start = Instant::now();
    let at = move || format!("{:>7.1} ms", start.elapsed().as_secs_f64() * 1e3);

    // 1. Backend selection.
    println!("backends compiled in: {:?}", eventop::supported_backends());
    let mut base = Builder::new().priorities(2).build()?;
    println!(
        "selected: {} (features {:?})",
        base.backend_name(),
        base.features()
    );
    let fallback = Builder::new().env(|name| name == "EVENT_NOEPOLL").build()?;
    println!("with EVENT_NOEPOLL: {}", fallback.backend_name());

    // 2. An echo server; each client thread sends MESSAGES lines and checks the echoes.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let echoed = Arc::new(AtomicUsize::new(0));
    let counter = echoed.clone();
    let accept = base.new_io(
        listener.as_raw_fd(),
        What::READ | What::PERSIST,
        move |base, _, _| {
            while let Ok((stream, peer)) = listener.accept() {
                println!("{}  accepted {peer}", at());
                stream.set_nonblocking(true).unwrap();
                let fd = stream.as_raw_fd();
                let counter = counter.clone();
                let echo = move |base: &mut Base, ev, _| {
                    if echo(base, ev, &stream) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                };
                let ev = base.new_io(fd, What::READ | What::PERSIST, echo).unwrap();
                base.add(ev, None).unwrap();
            }
        },
    )?;
    base.add(accept, None)?;

    // 3. Timers: a 200 ms tick, and a watchdog that ends the tour if something hangs.
    let mut ticks = 0;
    let tick = base.new_timer(true, move |_, _, _| {
        ticks += 1;
        println!("{}  tick {ticks}", at());
    })?;
    base.add(tick, Some(Duration::from_millis(200)))?;
    let watchdog = base.new_timer(false, |base, _, _| {
        eprintln!("watchdog: the tour took too long");
        base.break_loop();
    })?;
    base.add(watchdog, Some(Duration::from_secs(10)))?;

    // 4. A signal, delivered to this process by a thread.
    let signal = base.new_signal(libc::SIGUSR1, move |_, _, what| {
        println!("{}  signal SIGUSR1 ({what:?})", at());
    })?;
    base.add(signal, None)?;

    // 5. Other threads hand work to the loop; the last client to finish ends the tour that way.
    let waker = base.waker()?;
    let main_thread = thread::current().id();
    let finished = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let waker = waker.clone();
            let finished = finished.clone();
            thread::spawn(move || {
                client(i, addr);
                waker
                    .schedule(move |base: &mut Base| {
                        assert_eq!(thread::current().id(), main_thread);
                        println!("{}  client {i} done: scheduled from its thread", at());
                        if finished.fetch_add(1, Ordering::Relaxed) + 1 == CLIENTS {
                            base.exit_after(Duration::from_millis(250));
                        }
                    })
                    .unwrap();
            })
        })
        .collect();
    thread::spawn(|| {
        thread::sleep(Duration::from_millis(100));
        // SAFETY: kill with our own pid and a signal the base handles.
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
    });

    base.run()?;
    for c in clients {
        c.join().expect("client thread");
    }
    let n = echoed.load(Ordering::Relaxed);
    println!(
        "{}  done: {n} echoes for {CLIENTS} clients, {} events left",
        at(),
        base.len()
    );
    assert_eq!(n, CLIENTS * MESSAGES, "every message echoed once");
    Ok(())
}

/// Echoes what arrived; returns whether it echoed. Frees the event (closing the stream) at EOF.
fn echo(base: &mut Base, ev: Event, mut stream: &TcpStream) -> bool {
    let mut buf = [0; 1024];
    match stream.read(&mut buf) {
        Ok(n) if n > 0 => stream.write_all(&buf[..n]).is_ok(),
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        _ => {
            let _ = base.free(ev);
            false
        }
    }
}

/// One client: MESSAGES round trips, each checked.
fn client(i: usize, addr: std::net::SocketAddr) {
    let mut s = TcpStream::connect(addr).expect("connect");
    for m in 0..MESSAGES {
        let line = format!("client {i} message {m}\n");
        s.write_all(line.as_bytes()).expect("write");
        let mut got = vec![0; line.len()];
        s.read_exact(&mut got).expect("read echo");
        assert_eq!(got, line.as_bytes());
        thread::sleep(Duration::from_millis(60));
    }
}
