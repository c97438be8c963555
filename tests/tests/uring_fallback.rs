//! io_uring that cannot prove itself: selection falls back to epoll, silently, and says so in
//! the backend's name.
//!
//! Real parts: a forked child installs a seccomp filter that makes `io_uring_setup` fail (with
//! `EPERM`, as Docker's default profile and `kernel.io_uring_disabled` do, or with `ENOSYS`, as a
//! kernel without io_uring does), then selects a backend as a base would. The filter lives and
//! dies with the child; nothing else in the process or on the machine is affected.
#![cfg(target_os = "linux")]

use eventop_core::selection::{Config, Skip};
use eventop_core::sys::hosted::{FixedBuffers, Hosted};
use eventop_core::sys::uring::Uring;
use eventop_core::{Backend, BaseFlags, Errno, Error};

/// A config that asks for io_uring.
fn asked() -> Config<'static> {
    Config {
        flags: BaseFlags::IO_URING,
        ..Config::default()
    }
}

/// Makes `io_uring_setup` fail with `errno` in the calling process from now on.
fn refuse_io_uring_setup(errno: u32) -> bool {
    // Load the syscall number (`struct seccomp_data`'s first field); io_uring_setup: fail with
    // `errno`; anything else: allow.
    let filter = [
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: libc::SYS_io_uring_setup as u32,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | errno,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points to `filter`, both alive for the calls; the kernel copies the filter.
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) == 0
    }
}

/// In a child: refuses io_uring with `errno`, then checks that io_uring fails with it and that
/// selection picks epoll, noting io_uring as failed. Returns the child's exit status (0: as
/// expected).
fn fallback_in_child(errno: i32) -> i32 {
    // SAFETY: the child only makes syscalls and uses no-allocation core code (fixed buffers)
    // before `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = (|| {
            if !refuse_io_uring_setup(errno as u32) {
                return 10;
            }
            let want = Error::Os {
                call: "io_uring_setup",
                errno: Errno(errno),
            };
            if Uring::new().err() != Some(want) {
                return 11;
            }
            let Ok(s) = Hosted::<FixedBuffers<8>>::select(&asked()) else {
                return 12;
            };
            if s.backend.info().name != "epoll" {
                return 13;
            }
            // Avoiding every working backend shows what selection skipped, and why.
            let none = Hosted::<FixedBuffers<8>>::select(&Config {
                avoid: &["epoll", "poll", "select"],
                ..asked()
            });
            match none {
                Err(n) if n.skipped().first() == Some(&("io_uring", Skip::Failed(want))) => 0,
                _ => 14,
            }
        })();
        // SAFETY: leaves the child at once, without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    libc::WEXITSTATUS(status)
}

#[test]
fn setup_refused_by_seccomp_falls_back_to_epoll() {
    assert_eq!(fallback_in_child(libc::EPERM), 0);
}

#[test]
fn setup_missing_falls_back_to_epoll() {
    assert_eq!(fallback_in_child(libc::ENOSYS), 0);
}

#[test]
fn io_uring_is_first_where_the_kernel_allows_it() {
    let s = Hosted::<FixedBuffers<8>>::select(&asked()).unwrap();
    let name = s.backend.info().name;
    if Uring::new().is_ok() {
        assert_eq!(name, "io_uring");
    } else {
        eprintln!("io_uring unavailable here: {:?}", Uring::new().err());
        assert_eq!(name, "epoll");
    }
}
