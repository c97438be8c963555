//! Two names: `eventop_native_kqueue`, "the system has kqueue" (the BSDs and Apple's systems), and
//! `eventop_kqueue`, "this target has kqueue": those, or any target built with
//! `--cfg eventop_libkqueue` (a system libkqueue, to run the kqueue backend on Linux).
//!
//! With libkqueue, the directory of `libkqueue.so` goes to the linker as a search path (it is
//! passed on to every crate and doctest that links this one): `$LIBKQUEUE_LIB_DIR` if set, else
//! what `pkg-config --libs-only-L libkqueue` says, else nothing (the linker's own search path).
//! Rust's default linker on x86_64 Linux does not search `/usr/local/lib`, where libkqueue
//! installs itself.

use std::process::Command;

fn main() {
    println!(
        "cargo::rustc-check-cfg=cfg(eventop_kqueue, eventop_native_kqueue, eventop_libkqueue)"
    );
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let bsd = ["freebsd", "netbsd", "openbsd", "dragonfly", "macos", "ios"].contains(&os.as_str());
    let libkqueue = std::env::var_os("CARGO_CFG_EVENTOP_LIBKQUEUE").is_some();
    if bsd {
        println!("cargo::rustc-cfg=eventop_native_kqueue");
    }
    if bsd || libkqueue {
        println!("cargo::rustc-cfg=eventop_kqueue");
    }
    println!("cargo::rerun-if-env-changed=LIBKQUEUE_LIB_DIR");
    if libkqueue && !bsd {
        for dir in libkqueue_dirs() {
            println!("cargo::rustc-link-search=native={dir}");
        }
    }
}

/// Where libkqueue's shared library is, if anyone says.
fn libkqueue_dirs() -> Vec<String> {
    if let Some(dir) = std::env::var_os("LIBKQUEUE_LIB_DIR") {
        return vec![dir.to_string_lossy().into_owned()];
    }
    println!("cargo::rerun-if-env-changed=PKG_CONFIG_PATH");
    let Ok(out) = Command::new("pkg-config")
        .args(["--libs-only-L", "libkqueue"])
        .output()
    else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|arg| arg.strip_prefix("-L"))
        .map(str::to_owned)
        .collect()
}
