//! A TCP echo server on 127.0.0.1:7007 (or the port given). Ctrl-C stops it.
//!
//! Try it: `cargo run -p eventop --example echo_server`, then `nc 127.0.0.1 7007`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};

use eventop::{Base, EventId, Interest, Mode, Readiness};

fn main() -> eventop::Result<()> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "7007".into());
    let listener = TcpListener::bind(format!("127.0.0.1:{port}"))?;
    listener.set_nonblocking(true)?;
    let mut base = Base::new()?;
    // The base owns the listener, and each stream it accepts.
    base.new_io(
        listener,
        Interest::READ,
        Mode::Level,
        |base, _, _, _, listener| {
            while let Ok((stream, _)) = listener.accept() {
                let _ = stream.set_nonblocking(true);
                let _ = base.new_io(stream, Interest::READ, Mode::Level, echo);
            }
        },
    )?;
    base.new_signal(libc::SIGINT, |base, _, _, _| base.break_loop())?;
    println!(
        "echoing on 127.0.0.1:{port} with {}; Ctrl-C stops",
        base.backend_name()
    );
    base.run(&mut ())?;
    Ok(())
}

/// Echoes what arrived; frees the event (which closes the stream) at EOF or on an error.
fn echo(base: &mut Base, _: &mut (), ev: EventId, _: Readiness, stream: &mut TcpStream) {
    let mut buf = [0; 4096];
    match stream.read(&mut buf) {
        Ok(n) if n > 0 && stream.write_all(&buf[..n]).is_ok() => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        _ => drop(base.free(ev)),
    }
}
