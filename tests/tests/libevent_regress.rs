//! libevent 2.1.12's own core test programs (`test/test-*.c` of its source, never copied here)
//! built out of tree against Debian's libevent headers and run on eventop's installed library
//! on every backend, and on libevent beside it.
//!
//! Needs the source: `LIBEVENT_SRC=/path/to/libevent` (a checkout of `release-2.1.12-stable`, or
//! any tree with that `test/` directory and libevent's internal headers); skipped, saying so,
//! without it. The programs that need more than the core (bufferevents, listeners: `test-fdleak`,
//! `test-ratelim`) and `regress` (libevent's internals) are not run.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The core test programs, each run as libevent's `test.sh` runs it.
const PROGRAMS: &[&str] = &[
    "test-init",
    "test-eof",
    "test-closed",
    "test-weof",
    "test-time",
    "test-changelist",
    "test-dumpevents",
];

/// Each backend and the environment that selects it (io_uring when asked for, where the kernel
/// allows it; libevent, which has none, takes epoll there).
const BACKENDS: &[(&str, &[(&str, &str)])] = &[
    ("io_uring", &[("EVENT_IO_URING", "1")]),
    ("epoll", &[("EVENT_NOIO_URING", "1")]),
    ("epoll (changelist)", &[("EVENT_EPOLL_USE_CHANGELIST", "1")]),
    ("poll", &[("EVENT_NOIO_URING", "1"), ("EVENT_NOEPOLL", "1")]),
    (
        "select",
        &[
            ("EVENT_NOIO_URING", "1"),
            ("EVENT_NOEPOLL", "1"),
            ("EVENT_NOPOLL", "1"),
        ],
    ),
];

use eventop_tests::clib::{built_dir, root};

/// Runs `cmd`, killed after a generous limit: its exit code and output.
fn run(cmd: &mut Command) -> (i32, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let limit = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn libevents_core_test_programs_pass_on_eventop() {
    let Some(src) = std::env::var_os("LIBEVENT_SRC").map(PathBuf::from) else {
        eprintln!("skipped: LIBEVENT_SRC (a libevent 2.1.12 source tree) is not set");
        return;
    };
    assert!(
        src.join("test/test-eof.c").exists(),
        "{} has no test/test-eof.c",
        src.display()
    );
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libevent_regress");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    // What libevent's configure would generate for its private headers.
    std::fs::write(
        work.join("evconfig-private.h"),
        "#ifndef EVCONFIG_PRIVATE_H_\n#define EVCONFIG_PRIVATE_H_\n#ifndef _GNU_SOURCE\n\
         #define _GNU_SOURCE 1\n#endif\n#endif\n",
    )
    .unwrap();
    let prefix = work.join("prefix");
    let (code, text) = run(Command::new("bash")
        .arg(root().join("ci/install-c"))
        .arg(&prefix)
        .arg(built_dir()));
    assert_eq!(code, 0, "ci/install-c: {text}");
    let lib = prefix.join("lib");

    let mut failures = Vec::new();
    for p in PROGRAMS {
        let exe = work.join(p);
        let (code, text) = run(Command::new("cc")
            .args(["-O1", "-w"])
            .arg(format!("-I{}", work.display()))
            .arg(format!("-I{}", src.display()))
            .arg(format!("-I{}", src.join("compat").display()))
            .arg(src.join("test").join(format!("{p}.c")))
            .args(["-levent_core", "-o"])
            .arg(&exe));
        assert_eq!(code, 0, "cc {p}: {text}");
        for (name, env) in BACKENDS {
            for on_eventop in [true, false] {
                let mut cmd = Command::new(&exe);
                cmd.env_remove("LD_LIBRARY_PATH")
                    .env_remove("EVENT_NOEPOLL")
                    .env_remove("EVENT_NOPOLL")
                    .env_remove("EVENT_EPOLL_USE_CHANGELIST")
                    .envs(env.iter().copied());
                if on_eventop {
                    cmd.env("LD_LIBRARY_PATH", &lib);
                }
                let (code, text) = run(&mut cmd);
                let who = if on_eventop { "eventop" } else { "libevent" };
                if code != 0 {
                    failures.push(format!("{p} on {name} ({who}): exit {code}\n{text}"));
                    continue;
                }
                if *p == "test-dumpevents" {
                    // libevent's checker of the dump, fed the program's output.
                    let mut check = Command::new("python3")
                        .arg(src.join("test/check-dumpevents.py"))
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .expect("python3");
                    use std::io::Write;
                    check
                        .stdin
                        .take()
                        .unwrap()
                        .write_all(text.as_bytes())
                        .unwrap();
                    let out = check.wait_with_output().unwrap();
                    if !out.status.success() {
                        failures.push(format!(
                            "{p} on {name} ({who}): check-dumpevents.py: {}",
                            String::from_utf8_lossy(&out.stderr)
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
