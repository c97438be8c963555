//! A tour of eventop in a few seconds: which backend this machine gets, a TCP echo server with
//! three clients, timers, a signal, and work handed to the loop from another thread.
//!
//! Run: `cargo run --release -p eventop --example tour`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use eventop::{Base, Builder, EventId, Interest, Mode, Readiness, TimeoutAction};

/// What the callbacks share: the echoes so far, and the clients done.
#[derive(Default)]
struct Tally {
    echoed: usize,
    finished: usize,
}

const CLIENTS: usize = 3;
const MESSAGES: usize = 5;

fn main() -> eventop::Result<()> {
    let start = Instant::now();
    let at = move || format!("{:>7.1} ms", start.elapsed().as_secs_f64() * 1e3);

    // 1. Backend selection.
    println!("backends compiled in: {:?}", eventop::supported_backends());
    let mut base: Base<Tally> = Builder::new().priorities(2).build()?;
    println!(
        "selected: {} (features {:?})",
        base.backend_name(),
        base.features()
    );
    let fallback: Base = Builder::new().env(|name| name == "EVENT_NOEPOLL").build()?;
    println!("with EVENT_NOEPOLL: {}", fallback.backend_name());

    // 2. An echo server; each client thread sends MESSAGES lines and checks the echoes.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    // The base owns the listener and each accepted stream, and lends them to their callbacks.
    base.new_io(
        listener,
        Interest::READ,
        Mode::Level,
        move |base, _, _, _, listener| {
            while let Ok((stream, peer)) = listener.accept() {
                println!("{}  accepted {peer}", at());
                stream.set_nonblocking(true).unwrap();
                base.new_io(stream, Interest::READ, Mode::Level, echo)
                    .unwrap();
            }
        },
    )?;

    // 3. Timers: a 200 ms tick, and a watchdog that ends the tour if something hangs.
    let mut ticks = 0;
    let tick = Duration::from_millis(200);
    base.new_timer(tick, move |_, _, _| {
        ticks += 1;
        println!("{}  tick {ticks}", at());
        TimeoutAction::ToDuration(tick)
    })?;
    base.new_timer(Duration::from_secs(10), |base, _, _| {
        eprintln!("watchdog: the tour took too long");
        base.break_loop();
        TimeoutAction::Drop
    })?;

    // 4. A signal, delivered to this process by a thread.
    base.new_signal(libc::SIGUSR1, move |_, _, _, ready| {
        println!("{}  signal SIGUSR1 ({ready:?})", at());
    })?;

    // 5. Other threads hand work to the loop; the last client to finish ends the tour that way.
    let waker = base.waker()?;
    let main_thread = thread::current().id();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let waker = waker.clone();
            thread::spawn(move || {
                client(i, addr);
                waker
                    .schedule(move |base, tally| {
                        assert_eq!(thread::current().id(), main_thread);
                        println!("{}  client {i} done: scheduled from its thread", at());
                        tally.finished += 1;
                        if tally.finished == CLIENTS {
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

    let mut tally = Tally::default();
    base.run(&mut tally)?;
    for c in clients {
        c.join().expect("client thread");
    }
    let n = tally.echoed;
    println!(
        "{}  done: {n} echoes for {CLIENTS} clients, {} events left",
        at(),
        base.len()
    );
    assert_eq!(n, CLIENTS * MESSAGES, "every message echoed once");
    Ok(())
}

/// Echoes what arrived and counts it. Frees the event (closing the stream) at EOF.
fn echo(
    base: &mut Base<Tally>,
    tally: &mut Tally,
    ev: EventId,
    _: Readiness,
    stream: &mut TcpStream,
) {
    let mut buf = [0; 1024];
    match stream.read(&mut buf) {
        Ok(n) if n > 0 => tally.echoed += usize::from(stream.write_all(&buf[..n]).is_ok()),
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        _ => drop(base.free(ev)),
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
