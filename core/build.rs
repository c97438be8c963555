//! One name for "this target has kqueue": the BSDs and Apple's systems, or any target built with
//! `--cfg eventide_libkqueue` (a system libkqueue, to run the kqueue backend on Linux).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(eventide_kqueue, eventide_libkqueue)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let bsd = ["freebsd", "netbsd", "openbsd", "dragonfly", "macos", "ios"].contains(&os.as_str());
    if bsd || std::env::var_os("CARGO_CFG_EVENTIDE_LIBKQUEUE").is_some() {
        println!("cargo::rustc-cfg=eventide_kqueue");
    }
}
