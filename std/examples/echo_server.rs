//! A TCP echo server on 127.0.0.1:7007 (or the port given). Ctrl-C stops it.
//!
//! Try it: `cargo run -p eventop --example echo_server`, then `nc 127.0.0.1 7007`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use eventop::{Base, Event, What};

fn main() -> std::io::Result<()> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "7007".into());
    let listener = TcpListener::bind(format!("127.0.0.1:{port}"))?;
    listener.set_nonblocking(true)?;
    let mut base = Base::new()?;
    let fd = listener.as_raw_fd();
    let accept = base.new_io(fd, What::READ | What::PERSIST, move |base, _, _| {
        while let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_nonblocking(true);
            let fd = stream.as_raw_fd();
            let echo = move |base: &mut Base, ev, _| echo(base, ev, &stream);
            if let Ok(ev) = base.new_io(fd, What::READ | What::PERSIST, echo) {
                let _ = base.add(ev, None);
            }
        }
    })?;
    base.add(accept, None)?;
    let stop = base.new_signal(libc::SIGINT, |base, _, _| base.break_loop())?;
    base.add(stop, None)?;
    println!(
        "echoing on 127.0.0.1:{port} with {}; Ctrl-C stops",
        base.backend_name()
    );
    base.run()?;
    Ok(())
}

/// Echoes what arrived; frees the event (which closes the stream) at EOF or on an error.
fn echo(base: &mut Base, ev: Event, mut stream: &TcpStream) {
    let mut buf = [0; 4096];
    match stream.read(&mut buf) {
        Ok(n) if n > 0 && stream.write_all(&buf[..n]).is_ok() => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        _ => drop(base.free(ev)),
    }
}
