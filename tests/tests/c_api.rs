//! The C library's tests: each program in `tests/c/` is built and run three ways, on every
//! backend (chosen through libevent's `EVENT_NO*` variables):
//!
//! - (a) against eventop's headers (`ffi/include`), linked with `libeventop`;
//! - (b) against Debian's libevent headers, linked with `-levent_core`, but run with
//!   `LD_LIBRARY_PATH` on a directory where eventop's library is `libevent_core-2.1.so.7` (the
//!   ABI promise: a program built for libevent runs on eventop unrebuilt);
//! - (c) the same binary on real libevent, the oracle (`EVENTOP_ORACLE=1`): a test that fails
//!   there is a wrong test, unless the check is one of eventop's documented improvements, which
//!   the C source skips under `oracle()`.
//!
//! Needs a C compiler and libevent-dev (`ci/test` installs it).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Each backend: its name as `event_base_get_method` gives it, and the environment choosing it.
/// io_uring, asked for through `EVENT_IO_URING` where the kernel allows it ([`backends`] leaves it
/// out elsewhere); libevent, the oracle, ignores the variable and takes epoll there. Every run
/// but kqueue's sets `EVENT_NOKQUEUE`: built over libkqueue (`--cfg eventop_libkqueue`), eventop
/// has kqueue last in its table, where it would otherwise answer for what the run disables.
/// kqueue's run (under that cfg only) has no oracle: Linux's libevent has no kqueue.
const BACKENDS: &[(&str, &[(&str, &str)])] = &[
    (
        "io_uring",
        &[("EVENT_IO_URING", "1"), ("EVENT_NOKQUEUE", "1")],
    ),
    (
        "epoll",
        &[("EVENT_NOIO_URING", "1"), ("EVENT_NOKQUEUE", "1")],
    ),
    (
        "epoll (with changelist)",
        &[("EVENT_EPOLL_USE_CHANGELIST", "1"), ("EVENT_NOKQUEUE", "1")],
    ),
    (
        "poll",
        &[
            ("EVENT_NOIO_URING", "1"),
            ("EVENT_NOEPOLL", "1"),
            ("EVENT_NOKQUEUE", "1"),
        ],
    ),
    (
        "select",
        &[
            ("EVENT_NOIO_URING", "1"),
            ("EVENT_NOEPOLL", "1"),
            ("EVENT_NOPOLL", "1"),
            ("EVENT_NOKQUEUE", "1"),
        ],
    ),
    #[cfg(eventop_libkqueue)]
    (
        "kqueue",
        &[
            ("EVENT_NOIO_URING", "1"),
            ("EVENT_NOEPOLL", "1"),
            ("EVENT_NOPOLL", "1"),
            ("EVENT_NOSELECT", "1"),
        ],
    ),
];

/// The ways a program runs on backend `name`: all three, but no oracle for kqueue.
fn ways(name: &str) -> impl Iterator<Item = Way> + '_ {
    [Way::Eventop, Way::Abi, Way::Oracle]
        .into_iter()
        .filter(move |w| *w != Way::Oracle || name != "kqueue")
}

/// Whether io_uring proves itself here (eventop then selects it by default).
fn uring_here() -> bool {
    static HERE: OnceLock<bool> = OnceLock::new();
    #[cfg(target_os = "linux")]
    return *HERE.get_or_init(|| eventop_core::sys::uring::Uring::new().is_ok());
    #[cfg(not(target_os = "linux"))]
    *HERE.get_or_init(|| false)
}

/// The backends this machine offers.
fn backends(
) -> impl Iterator<Item = &'static (&'static str, &'static [(&'static str, &'static str)])> {
    BACKENDS
        .iter()
        .filter(|(name, _)| uring_here() || *name != "io_uring")
}

/// Variables of the test's own environment that would change what a run selects.
const SCRUB: &[&str] = &[
    "EVENT_IO_URING",
    "EVENT_NOIO_URING",
    "EVENT_NOEPOLL",
    "EVENT_NOPOLL",
    "EVENT_NOSELECT",
    "EVENT_NOKQUEUE",
    "EVENT_EPOLL_USE_CHANGELIST",
    "EVENT_PRECISE_TIMER",
    "EVENT_SHOW_METHOD",
    "LD_LIBRARY_PATH",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Where eventop's library lies under the names each way needs.
struct Libs {
    /// `libeventop.so.0` (its soname) and `libeventop.so`: way (a).
    own: PathBuf,
    /// `libevent_core-2.1.so.7`: way (b).
    abi: PathBuf,
    /// Build outputs of this run.
    work: PathBuf,
}

/// The freshest `libeventop_ffi.so` cargo built for this profile (eventop-ffi is a dependency
/// of this package, so it is built before these tests).
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    let profile = deps.parent().expect("profile dir");
    [
        profile.join("libeventop_ffi.so"),
        deps.join("libeventop_ffi.so"),
    ]
    .into_iter()
    .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
    .max()
    .map(|(_, p)| p)
    .expect("libeventop_ffi.so not built: run through cargo test")
}

fn libs() -> &'static Libs {
    static LIBS: OnceLock<Libs> = OnceLock::new();
    LIBS.get_or_init(|| {
        assert!(
            Path::new("/usr/include/event2/event.h").exists(),
            "libevent-dev is missing: `apt-get install -y libevent-dev` (ci/test does)"
        );
        let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_api");
        let own = work.join("lib");
        let abi = work.join("abi");
        for d in [&own, &abi] {
            std::fs::create_dir_all(d).unwrap();
        }
        let lib = built_library();
        copy(&lib, &own.join("libeventop.so.0"));
        copy(&lib, &own.join("libeventop.so"));
        copy(&lib, &abi.join("libevent_core-2.1.so.7"));
        copy(&lib, &abi.join("libevent-2.1.so.7"));
        // libevent_pthreads: eventop's one (ffi/pthreads), over the library above.
        let stub = abi.join("libevent_pthreads-2.1.so.tmp");
        cc(&[
            "-shared",
            "-fPIC",
            "-Wall",
            "-Werror",
            &format!("-I{}", root().join("ffi/include").display()),
            root()
                .join("ffi/pthreads/evthread_pthreads.c")
                .to_str()
                .unwrap(),
            "-Wl,-soname,libevent_pthreads-2.1.so.7",
            "-o",
            stub.to_str().unwrap(),
        ]);
        std::fs::rename(&stub, abi.join("libevent_pthreads-2.1.so.7")).unwrap();
        Libs { own, abi, work }
    })
}

fn copy(from: &Path, to: &Path) {
    // Write a new file (not over the old one in place): a test process may have it mapped.
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

fn cc(args: &[&str]) {
    let out = Command::new("cc").args(args).output().expect("cc");
    assert!(
        out.status.success(),
        "cc {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds `tests/c/<name>.c` both ways: (a) on eventop's headers, (b/c) on libevent's.
fn build(name: &str) -> (PathBuf, PathBuf) {
    build_from(&root().join("tests/c").join(format!("{name}.c")), name)
}

fn build_from(src: &Path, name: &str) -> (PathBuf, PathBuf) {
    build_with(src, name, &[])
}

/// [`build_from`], the libevent way linked with `extra` libraries too.
fn build_with(src: &Path, name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let l = libs();
    let src = src.to_str().unwrap();
    let own = l.work.join(format!("{name}_eventop"));
    let sys = l.work.join(format!("{name}_libevent"));
    let include = root().join("ffi/include");
    let flags = ["-std=gnu11", "-O1", "-g", "-Wall", "-Werror", "-pthread"];
    let mut a: Vec<&str> = flags.to_vec();
    let (inc, libdir) = (
        format!("-I{}", include.display()),
        format!("-L{}", l.own.display()),
    );
    a.extend([inc.as_str(), src, libdir.as_str(), "-leventop", "-o"]);
    a.push(own.to_str().unwrap());
    cc(&a);
    let mut c: Vec<&str> = flags.to_vec();
    c.extend([src, "-levent_core"]);
    c.extend(extra);
    c.extend(["-o", sys.to_str().unwrap()]);
    cc(&c);
    (own, sys)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Way {
    /// eventop's headers and library.
    Eventop,
    /// libevent's headers, eventop's library by `LD_LIBRARY_PATH`.
    Abi,
    /// real libevent.
    Oracle,
}

/// Runs `exe` the `way` given on backend `b`, killing it after a generous limit.
fn run(exe: &Path, way: Way, b: &(&str, &[(&str, &str)])) -> Output {
    run_args(exe, &[], way, b)
}

fn run_args(exe: &Path, args: &[&str], way: Way, b: &(&str, &[(&str, &str)])) -> Output {
    let l = libs();
    let mut cmd = Command::new(exe);
    cmd.args(args);
    for v in SCRUB {
        cmd.env_remove(v);
    }
    for (k, v) in b.1 {
        cmd.env(k, v);
    }
    cmd.env("EVENTOP_METHOD", b.0);
    cmd.env("EVENTOP_DEFAULT_METHOD", "epoll");
    match way {
        Way::Eventop => cmd.env("LD_LIBRARY_PATH", &l.own),
        Way::Abi => cmd.env("LD_LIBRARY_PATH", &l.abi),
        Way::Oracle => cmd.env("EVENTOP_ORACLE", "1"),
    };
    // A process group of its own: a program that forks is stopped whole if it hangs (its
    // children hold the output pipes open).
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn C test");
    let limit = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > limit {
            // SAFETY: a signal to the process group this test made (its id is the child's
            // PID, not yet reaped).
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

/// Checks that the (b) binary really loads eventop's library.
fn assert_loads_eventop(exe: &Path) {
    assert_loads_eventop_as(exe, "libevent_core-2.1.so.7");
}

fn assert_loads_eventop_as(exe: &Path, soname: &str) {
    let l = libs();
    let out = Command::new("ldd")
        .arg(exe)
        .env("LD_LIBRARY_PATH", &l.abi)
        .output()
        .expect("ldd");
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("{soname} => {}", l.abi.display());
    assert!(
        text.contains(&want),
        "{} does not load eventop's library:\n{text}",
        exe.display()
    );
}

/// Builds `name` and runs it every way on every backend; returns (a)'s and (c)'s output on
/// the default backend.
fn c_test(name: &str) -> (String, String) {
    let (own, sys) = build(name);
    assert_loads_eventop(&sys);
    run_every_way(name, &own, &sys)
}

/// Runs the two builds of `name` every way on every backend.
fn run_every_way(name: &str, own: &Path, sys: &Path) -> (String, String) {
    let mut failures = Vec::new();
    let mut outputs = (String::new(), String::new());
    for b in backends() {
        for way in ways(b.0) {
            let exe = if way == Way::Eventop { own } else { sys };
            let out = run(exe, way, b);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            if !out.status.success() {
                failures.push(format!(
                    "{name} {way:?} on {}: {}\n{stdout}{}",
                    b.0,
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            if b.0 == "epoll" {
                match way {
                    Way::Eventop => outputs.0 = stdout,
                    Way::Oracle => outputs.1 = stdout,
                    Way::Abi => {}
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    outputs
}

#[test]
fn layout_and_constants_match_libevent() {
    let (ours, theirs) = c_test("layout");
    assert!(ours.contains("sizeof(struct event) = "), "{ours}");
    assert_eq!(ours, theirs, "eventop's headers differ from libevent's");
}

/// Every function eventop declares has the type libevent declares: both headers in one unit,
/// where a conflicting redeclaration is an error. (eventop's enums are left out: C does not
/// allow an enum to be defined twice.)
#[test]
fn declarations_agree_with_libevent() {
    let l = libs();
    let include = root().join("ffi/include");
    let event_h = std::fs::read_to_string(include.join("event2/event.h")).unwrap();
    let mut stripped = String::new();
    let mut in_enum = false;
    for line in event_h.lines() {
        if line.starts_with("enum ") {
            in_enum = true;
        }
        if !in_enum {
            stripped += line;
            stripped += "\n";
        }
        if in_enum && line.starts_with("};") {
            in_enum = false;
        }
    }
    let ours = l.work.join("eventop_event.h");
    std::fs::write(&ours, stripped).unwrap();
    let unit = l.work.join("declarations.c");
    std::fs::write(
        &unit,
        format!(
            "#include <event2/event.h>\n#include <event2/event_compat.h>\n\
             #include <event2/util.h>\n#include <event2/event_struct.h>\n\
             #undef EVENT2_EVENT_H_INCLUDED_\n#undef EVENT2_EVENT_COMPAT_H_INCLUDED_\n\
             #undef EVENT2_UTIL_H_INCLUDED_\n#include \"{}\"\n#include \"{}\"\n#include \"{}\"\n",
            ours.display(),
            include.join("event2/event_compat.h").display(),
            include.join("event2/util.h").display()
        ),
    )
    .unwrap();
    cc(&["-fsyntax-only", "-Wno-error", unit.to_str().unwrap()]);
}

#[test]
fn bases_events_and_misuse() {
    c_test("basics");
}

#[test]
fn the_loop_timers_and_loop_control() {
    c_test("loop");
}

#[test]
fn io_priorities_and_activation() {
    c_test("io");
}

#[test]
fn callbacks_reenter_the_library() {
    c_test("reentry");
}

#[test]
fn signals() {
    c_test("signals");
}

#[test]
fn a_million_reassigns_hold_one_event() {
    let (ours, theirs) = c_test("reassign");
    eprintln!("eventop: {ours}libevent: {theirs}");
}

#[test]
fn null_freed_and_garbage_arguments_are_refused() {
    c_test("misuse");
}

/// Bad fds, timeouts, priorities and signal numbers, calls made twice and the evutil helpers'
/// bad arguments get libevent's answers, and the events held meanwhile still run
/// (docs/robustness.md, "C API").
#[test]
fn bad_inputs_get_libevents_answers() {
    c_test("bad_inputs");
}

#[test]
fn ev_flags_as_libevent_sets_them() {
    c_test("flags");
}

#[test]
fn bases_on_several_threads() {
    c_test("threads");
}

/// A base shared between threads (`evthread_use_pthreads`, linked `-levent_pthreads` the
/// libevent way, where eventop's `libevent_pthreads-2.1.so.7` is loaded): other threads add,
/// delete, activate and break while the loop waits; libevent#1727 and #225 fixed.
#[test]
fn a_base_shared_between_threads() {
    let (own, sys) = build_with(
        &root().join("tests/c/evthread.c"),
        "evthread",
        &["-levent_pthreads"],
    );
    assert_loads_eventop(&sys);
    assert_loads_eventop_as(&sys, "libevent_pthreads-2.1.so.7");
    run_every_way("evthread", &own, &sys);
}

/// Forking after the base exists, the way servers do: the child frees the base, or calls
/// `event_reinit` and runs its own loop, also from inside a callback; the parent loses nothing.
#[test]
fn fork_the_way_servers_do() {
    c_test("fork");
}

#[test]
fn the_remaining_functions() {
    c_test("rest");
}

/// `event_base_get_num_events` and `_get_max_events` count as libevent does: an event once for
/// each of its fd, its timeout and its activation; one activated by its timeout once.
#[test]
fn event_counts_as_libevent_keeps_them() {
    c_test("counts");
}

#[test]
fn an_echo_server_and_its_clients() {
    c_test("echo");
}

#[test]
fn the_compat_api() {
    c_test("compat");
}

#[test]
fn finalizers_introspection_fork_and_evutil() {
    c_test("extras");
}

/// `ci/install-c` installs a prefix from which the README's C example builds with
/// `pkg-config --cflags --libs libevent_core` alone, links libevent's soname, and runs on
/// eventop.
#[test]
fn install_c_and_the_readme_example() {
    let l = libs();
    let lib = built_library();
    let libdir = lib.parent().unwrap();
    assert!(
        libdir.join("libeventop_ffi.a").exists(),
        "no static library beside {}",
        lib.display()
    );
    let prefix = l.work.join("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    let out = Command::new("bash")
        .arg(root().join("ci/install-c"))
        .arg(&prefix)
        .arg(libdir)
        .output()
        .expect("ci/install-c");
    assert!(
        out.status.success(),
        "ci/install-c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The README's C example, as written there.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("## C: libevent's core API")
        .nth(1)
        .expect("README's C section");
    let example = section
        .split("```c\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a C example in README's C section");
    let src = l.work.join("readme_example.c");
    std::fs::write(&src, example).unwrap();
    for (pc, soname) in [
        ("libevent_core", "libevent_core-2.1.so.7"),
        ("libevent", "libevent-2.1.so.7"),
        ("eventop", "libeventop.so.0"),
    ] {
        let pkg = Command::new("pkg-config")
            .args(["--cflags", "--libs", pc])
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .output()
            .expect("pkg-config");
        assert!(pkg.status.success(), "pkg-config found no {pc}");
        let flags = String::from_utf8(pkg.stdout).unwrap();
        let inc = format!("-I{}", prefix.join("include").display());
        assert!(flags.contains(&inc), "{flags}");
        let exe = l.work.join(format!("readme_example_{pc}"));
        let mut args = vec!["-std=gnu11", "-Wall", "-Werror", src.to_str().unwrap()];
        args.extend(flags.split_whitespace());
        args.extend(["-o", exe.to_str().unwrap()]);
        cc(&args);
        let needed = Command::new("readelf")
            .arg("-d")
            .arg(&exe)
            .output()
            .unwrap();
        let needed = String::from_utf8_lossy(&needed.stdout);
        assert!(needed.contains(&format!("[{soname}]")), "{pc}: {needed}");
        for b in backends() {
            let mut cmd = Command::new(&exe);
            for v in SCRUB {
                cmd.env_remove(v);
            }
            let out = cmd
                .envs(b.1.iter().copied())
                .env("LD_LIBRARY_PATH", prefix.join("lib"))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "README example ({pc}) on {}: {text}",
                b.0
            );
            assert_eq!(
                text,
                format!(
                    "using {}\ntimer fired; writing\nread 5 bytes (what 0x2)\n",
                    b.0
                )
            );
        }
    }

    // Static: libeventop.a and what pkg-config --static adds, so nothing of eventop is loaded at
    // run; then fully static (`cc -static`), as the README says: `-lgcc_eh` for `-lgcc_s`, which
    // has no archive (glibc warns at link time that `getaddrinfo` and kin want its shared library).
    let pkg = Command::new("pkg-config")
        .args(["--static", "--libs-only-l", "--libs-only-other", "eventop"])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .expect("pkg-config");
    let private = String::from_utf8(pkg.stdout).unwrap();
    let inc = format!("-I{}", prefix.join("include").display());
    let archive = prefix.join("lib/libeventop.a");
    for all in [false, true] {
        let exe = l.work.join(if all {
            "readme_example_all_static"
        } else {
            "readme_example_static"
        });
        let mut args = vec![
            "-std=gnu11",
            "-Wall",
            "-Werror",
            inc.as_str(),
            src.to_str().unwrap(),
            archive.to_str().unwrap(),
        ];
        if all {
            args.push("-static");
        }
        args.extend(
            private
                .split_whitespace()
                .filter(|f| *f != "-leventop")
                .map(|f| if all && f == "-lgcc_s" { "-lgcc_eh" } else { f }),
        );
        args.extend(["-o", exe.to_str().unwrap()]);
        cc(&args);
        let dynamic = Command::new("readelf")
            .arg("-d")
            .arg(&exe)
            .output()
            .unwrap();
        let dynamic = String::from_utf8_lossy(&dynamic.stdout);
        if all {
            assert!(!dynamic.contains("NEEDED"), "-static, yet: {dynamic}");
        } else {
            assert!(
                !dynamic.contains("libevent") && !dynamic.contains("libeventop"),
                "{dynamic}"
            );
        }
        let out = Command::new(&exe)
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "static README example failed (-static: {all})"
        );
        assert!(String::from_utf8_lossy(&out.stdout).ends_with("read 5 bytes (what 0x2)\n"));
    }
}

/// The C chain benchmark (`ffi/examples/chain.c`, measured by `ci/instr-per-event-c`) builds on
/// both headers and runs every way, with and without timeouts.
#[test]
fn the_chain_benchmark_runs() {
    let (own, sys) = build_from(&root().join("ffi/examples/chain.c"), "chain");
    for b in backends() {
        for way in ways(b.0) {
            let exe = if way == Way::Eventop { &own } else { &sys };
            for extra in [&[][..], &["timeout"][..]] {
                let mut args = vec!["50", "2000"];
                args.extend(extra);
                let out = run_args(exe, &args, way, b);
                assert!(out.status.success(), "chain {args:?} {way:?} on {}", b.0);
                assert_eq!(String::from_utf8_lossy(&out.stdout), "2000\n");
            }
        }
    }
}

/// A program linked with `-levent` (libevent's whole library, `libevent-2.1.so.7`) runs on
/// eventop by `LD_LIBRARY_PATH` too.
#[test]
fn a_program_linked_with_levent_runs_on_eventop() {
    let l = libs();
    let src = root().join("tests/c/basics.c");
    let exe = l.work.join("basics_levent");
    cc(&[
        "-std=gnu11",
        "-Wall",
        "-Werror",
        src.to_str().unwrap(),
        "-levent",
        "-o",
        exe.to_str().unwrap(),
    ]);
    assert_loads_eventop_as(&exe, "libevent-2.1.so.7");
    for b in backends() {
        let out = run(&exe, Way::Abi, b);
        assert!(
            out.status.success(),
            "on {}: {}",
            b.0,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
