//! Debian's own libevent programs, unrebuilt, on eventop's C library: each is started on
//! loopback with `LD_LIBRARY_PATH` on a prefix `ci/install-c` made, driven by a real client,
//! and driven again the same way on Debian's libevent (the oracle); what the client sees must
//! be the same. `ldd` and `/proc/PID/maps` prove which library each run loaded.
//!
//! - memcached: `libevent-2.1.so.7`, one base per worker thread (`event_set`, `event_base_set`,
//!   timers, `event_base_loopexit`);
//! - gearmand: `libevent-2.1.so.7` and `libevent_pthreads-2.1.so.7` (`evthread_use_pthreads`),
//!   I/O threads handing jobs between a worker's and a client's connections;
//! - nsd: a DNS server that forks (its xfrd, main and server processes each run libevent
//!   loops), answering over UDP and TCP.
//!
//! `ci/test` installs the three with apt; a test whose program is missing says so and skips.
//! Processes are stopped by the PIDs these tests started, never by name.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use eventop_tests::clib::{built_dir, root};

/// `ci/install-c` into a prefix of this run: its `lib`.
fn prefix_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let prefix = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dropin/prefix");
        let _ = std::fs::remove_dir_all(&prefix);
        let out = Command::new("bash")
            .arg(root().join("ci/install-c"))
            .arg(&prefix)
            .arg(built_dir())
            .output()
            .expect("ci/install-c");
        assert!(
            out.status.success(),
            "ci/install-c: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        prefix.join("lib")
    })
}

/// The program, or `None` after saying why the test skips.
fn program(path: &str, package: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {path} is not installed (apt-get install {package}; ci/test does)");
        None
    }
}

/// `ldd` with eventop's prefix resolves each of `sonames` there.
fn assert_ldd_eventop(bin: &Path, sonames: &[&str]) {
    let out = Command::new("ldd")
        .arg(bin)
        .env("LD_LIBRARY_PATH", prefix_lib())
        .output()
        .expect("ldd");
    let text = String::from_utf8_lossy(&out.stdout);
    for so in sonames {
        let want = format!("{so} => {}", prefix_lib().join(so).display());
        assert!(
            text.contains(&want),
            "ldd {}: no {want}\n{text}",
            bin.display()
        );
    }
}

/// Which library a run uses.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lib {
    Eventop,
    Libevent,
}

/// A free loopback port (bound, then let go).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .unwrap()
        .port()
}

/// A program started by a test: stopped (SIGTERM to its PID, then SIGKILL if it lingers) when
/// dropped.
struct Server {
    child: Child,
}

impl Server {
    fn start(bin: &Path, args: &[&str], lib: Lib) -> Server {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env_remove("LD_LIBRARY_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if lib == Lib::Eventop {
            cmd.env("LD_LIBRARY_PATH", prefix_lib());
        }
        Server {
            child: cmd.spawn().expect("start the server"),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Connects to its TCP port, waiting (bounded) for it to listen.
    fn connect(&mut self, port: u16) -> TcpStream {
        let limit = Instant::now() + Duration::from_secs(15);
        loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    return s;
                }
                Err(e) => {
                    if let Ok(Some(st)) = self.child.try_wait() {
                        panic!("the server exited ({st}) before listening");
                    }
                    assert!(Instant::now() < limit, "never listened on {port}: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: a signal to the PID this test started (not yet reaped, so not reused).
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let limit = Instant::now() + Duration::from_secs(10);
        while Instant::now() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks that process `pid` mapped eventop's `soname` from the prefix (or, for the oracle, not).
fn assert_maps(pid: u32, soname: &str, lib: Lib) {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let ours = prefix_lib().join(soname);
    let on_eventop = maps.contains(ours.to_str().unwrap());
    assert_eq!(
        on_eventop,
        lib == Lib::Eventop,
        "process {pid} ({lib:?}) maps of {soname}:\n{}",
        maps.lines()
            .filter(|l| l.contains("libevent"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    if lib == Lib::Libevent {
        assert!(maps.contains("/libevent"), "{pid} has no libevent mapped");
    }
}

/// Sends `req` and reads until the reply ends with `end`.
fn ask(s: &mut TcpStream, req: &[u8], end: &[u8]) -> String {
    s.write_all(req).unwrap();
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while !got.ends_with(end) {
        let n = s.read(&mut buf).expect("read the reply");
        assert!(n > 0, "the server closed the connection");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

// ---- memcached ----

fn memcached_run(bin: &Path, lib: Lib) -> Vec<String> {
    let port = free_port();
    let p = port.to_string();
    let mut server = Server::start(
        bin,
        &[
            "-u",
            "nobody",
            "-U",
            "0",
            "-l",
            "127.0.0.1",
            "-t",
            "4",
            "-p",
            &p,
        ],
        lib,
    );
    let mut s = server.connect(port);
    assert_maps(server.pid(), "libevent-2.1.so.7", lib);
    let mut seen = vec![
        ask(&mut s, b"set k 0 0 7\r\neventop\r\n", b"\r\n"),
        ask(&mut s, b"get k\r\n", b"END\r\n"),
        ask(&mut s, b"incr n 1\r\n", b"\r\n"),
        ask(&mut s, b"add n 0 0 1\r\n5\r\n", b"\r\n"),
        ask(&mut s, b"incr n 37\r\n", b"\r\n"),
        ask(&mut s, b"delete k\r\n", b"\r\n"),
        ask(&mut s, b"get k n\r\n", b"END\r\n"),
    ];
    // Several clients at once, spread over the worker threads.
    let mut clients: Vec<TcpStream> = (0..8).map(|_| server.connect(port)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let v = format!("value{i}");
        let req = format!("set c{i} 0 0 {}\r\n{v}\r\n", v.len());
        seen.push(ask(c, req.as_bytes(), b"\r\n"));
    }
    for (i, c) in clients.iter_mut().enumerate().rev() {
        seen.push(ask(c, format!("get c{i}\r\n").as_bytes(), b"END\r\n"));
    }
    let stats = ask(&mut s, b"stats\r\n", b"END\r\n");
    assert!(stats.contains("STAT libevent 2.1.12-stable"), "{stats}");
    // A connection idle past nothing, then closed by the client: the server keeps serving.
    drop(clients);
    seen.push(
        ask(&mut s, b"version\r\n", b"\r\n")
            .starts_with("VERSION ")
            .to_string(),
    );
    seen
}

/// Debian's memcached: text protocol, eight clients over four worker threads.
#[test]
fn memcached_runs_on_eventop_as_on_libevent() {
    let Some(bin) = program("/usr/bin/memcached", "memcached") else {
        return;
    };
    assert_ldd_eventop(&bin, &["libevent-2.1.so.7"]);
    let ours = memcached_run(&bin, Lib::Eventop);
    let theirs = memcached_run(&bin, Lib::Libevent);
    assert_eq!(ours, theirs);
    assert_eq!(ours[0], "STORED\r\n");
    assert_eq!(ours[1], "VALUE k 0 7\r\neventop\r\nEND\r\n");
}

// ---- gearmand ----

/// One gearman binary-protocol packet.
fn packet(kind: u32, args: &[&[u8]]) -> Vec<u8> {
    let body = args.join(&b"\0"[..]);
    let mut p = b"\0REQ".to_vec();
    p.extend(kind.to_be_bytes());
    p.extend((body.len() as u32).to_be_bytes());
    p.extend(body);
    p
}

/// Reads one response packet: its type and arguments.
fn response(s: &mut TcpStream) -> (u32, Vec<Vec<u8>>) {
    let mut head = [0u8; 12];
    s.read_exact(&mut head).expect("a gearman response");
    assert_eq!(&head[..4], b"\0RES");
    let kind = u32::from_be_bytes(head[4..8].try_into().unwrap());
    let len = u32::from_be_bytes(head[8..12].try_into().unwrap()) as usize;
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    (kind, body.split(|&b| b == 0).map(<[u8]>::to_vec).collect())
}

const CAN_DO: u32 = 1;
const PRE_SLEEP: u32 = 4;
const NOOP: u32 = 6;
const SUBMIT_JOB: u32 = 7;
const JOB_CREATED: u32 = 8;
const GRAB_JOB: u32 = 9;
const NO_JOB: u32 = 10;
const JOB_ASSIGN: u32 = 11;
const WORK_COMPLETE: u32 = 13;
const ECHO_REQ: u32 = 16;
const ECHO_RES: u32 = 17;

fn gearmand_run(bin: &Path, lib: Lib) -> Vec<String> {
    let port = free_port();
    let p = port.to_string();
    // Its own pid file: gearmand removes the file at exit.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dropin");
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join(format!("gearmand-{lib:?}.pid"));
    let log = dir.join(format!("gearmand-{lib:?}.log"));
    let mut server = Server::start(
        bin,
        &[
            "-L",
            "127.0.0.1",
            "-p",
            &p,
            "-t",
            "3",
            "-l",
            log.to_str().unwrap(),
            "-P",
            pidfile.to_str().unwrap(),
        ],
        lib,
    );
    let mut worker = server.connect(port);
    assert_maps(server.pid(), "libevent-2.1.so.7", lib);
    assert_maps(server.pid(), "libevent_pthreads-2.1.so.7", lib);
    let mut seen = Vec::new();
    worker.write_all(&packet(ECHO_REQ, &[b"ping"])).unwrap();
    let (k, a) = response(&mut worker);
    seen.push(format!("echo {k} {:?}", a));
    assert_eq!(k, ECHO_RES);
    worker.write_all(&packet(CAN_DO, &[b"reverse"])).unwrap();
    let mut clients: Vec<TcpStream> = (0..4).map(|_| server.connect(port)).collect();
    for round in 0..3 {
        for (i, c) in clients.iter_mut().enumerate() {
            let data = format!("job {round} of client {i}");
            c.write_all(&packet(SUBMIT_JOB, &[b"reverse", b"", data.as_bytes()]))
                .unwrap();
            let (k, _handle) = response(c);
            assert_eq!(k, JOB_CREATED);
            // The worker takes the job (sleeping until woken when none is there yet).
            let (handle, data) = loop {
                worker.write_all(&packet(GRAB_JOB, &[])).unwrap();
                match response(&mut worker) {
                    (JOB_ASSIGN, a) => break (a[0].clone(), a[2].clone()),
                    (NO_JOB, _) => {
                        worker.write_all(&packet(PRE_SLEEP, &[])).unwrap();
                        assert_eq!(response(&mut worker).0, NOOP);
                    }
                    (k, a) => panic!("unexpected response {k} {a:?}"),
                }
            };
            let reversed: Vec<u8> = data.iter().rev().copied().collect();
            worker
                .write_all(&packet(WORK_COMPLETE, &[&handle, &reversed]))
                .unwrap();
            let (k, a) = response(c);
            assert_eq!(k, WORK_COMPLETE);
            seen.push(format!("{i}: {}", String::from_utf8_lossy(&a[1])));
        }
    }
    let mut admin = server.connect(port);
    let status = ask(&mut admin, b"status\n", b".\n");
    seen.push(status);
    seen
}

/// Debian's gearmand: `evthread_use_pthreads` from `libevent_pthreads`, three I/O threads; a
/// worker and four clients through the binary protocol, and the admin protocol.
#[test]
fn gearmand_runs_on_eventop_as_on_libevent() {
    let Some(bin) = program("/usr/sbin/gearmand", "gearman-job-server") else {
        return;
    };
    assert_ldd_eventop(&bin, &["libevent-2.1.so.7", "libevent_pthreads-2.1.so.7"]);
    let ours = gearmand_run(&bin, Lib::Eventop);
    let theirs = gearmand_run(&bin, Lib::Libevent);
    assert_eq!(ours, theirs);
    assert!(
        ours.contains(&"3: 3 tneilc fo 2 boj".to_string()),
        "{ours:?}"
    );
}

// ---- nsd ----

/// A DNS query for `name`'s A record.
fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::new();
    for v in [id, 0x0100, 1, 0, 0, 0] {
        q.extend(v.to_be_bytes());
    }
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend(label.as_bytes());
    }
    q.push(0);
    q.extend(1u16.to_be_bytes());
    q.extend(1u16.to_be_bytes());
    q
}

/// The pids of `pid`'s descendants, from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut all: Vec<(u32, u32)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": the comm may hold spaces, so split after its ')'.
        let rest = &stat[stat.rfind(')').unwrap_or(0) + 1..];
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            all.push((p, ppid));
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(all.iter().filter(|&&(_, pp)| pp == parent).map(|&(p, _)| p));
        i += 1;
    }
    out.remove(0);
    out
}

fn nsd_run(bin: &Path, lib: Lib) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("dropin/nsd-{lib:?}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("example.test.zone"),
        "$ORIGIN example.test.\n$TTL 300\n\
         @ IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 300\n\
         @ IN NS ns.example.test.\nns IN A 127.0.0.1\nwww IN A 127.0.0.7\n",
    )
    .unwrap();
    let port = free_port();
    let d = dir.display();
    std::fs::write(
        dir.join("nsd.conf"),
        format!(
            "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  server-count: 2\n  \
             username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  database: \"\"\n  \
             zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  \
             pidfile: \"{d}/nsd.pid\"\n  logfile: \"{d}/nsd.log\"\n\
             remote-control:\n  control-enable: no\n\
             zone:\n  name: example.test\n  zonefile: example.test.zone\n"
        ),
    )
    .unwrap();
    let conf = dir.join("nsd.conf");
    let mut server = Server::start(bin, &["-d", "-c", conf.to_str().unwrap()], lib);
    let mut tcp = server.connect(port);
    let mut seen = Vec::new();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for (id, name) in [
        (1, "www.example.test"),
        (2, "ns.example.test"),
        (3, "no.example.test"),
    ] {
        udp.send_to(&query(id, name), ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 512];
        let n = udp.recv(&mut buf).expect("a UDP answer");
        seen.push(buf[..n].to_vec());
        let q = query(id + 10, name);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend(q);
        tcp.write_all(&framed).unwrap();
        let mut len = [0u8; 2];
        tcp.read_exact(&mut len).unwrap();
        let mut answer = vec![0; u16::from_be_bytes(len) as usize];
        tcp.read_exact(&mut answer).unwrap();
        seen.push(answer);
    }
    // Every process of it (xfrd, main, the forked servers) runs on the library asked for.
    // (They may still be starting on a loaded machine: a few seconds' grace.)
    let mut procs = descendants(server.pid());
    for _ in 0..100 {
        if procs.len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        procs = descendants(server.pid());
    }
    assert!(procs.len() >= 3, "nsd's processes: {procs:?}");
    assert_maps(server.pid(), "libevent-2.1.so.7", lib);
    for p in procs {
        assert_maps(p, "libevent-2.1.so.7", lib);
    }
    seen
}

/// Debian's nsd: a DNS server whose processes fork from one another, each running libevent
/// loops; A queries over UDP and TCP, answered the same on both libraries.
#[test]
fn nsd_runs_on_eventop_as_on_libevent() {
    let Some(bin) = program("/usr/sbin/nsd", "nsd") else {
        return;
    };
    assert_ldd_eventop(&bin, &["libevent-2.1.so.7"]);
    let ours = nsd_run(&bin, Lib::Eventop);
    let theirs = nsd_run(&bin, Lib::Libevent);
    assert_eq!(ours, theirs);
    // www.example.test's answer ends with its A record, 127.0.0.7.
    assert!(ours[0].windows(4).any(|w| w == [127, 0, 0, 7]));
}
