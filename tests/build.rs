//! `eventop_kqueue` here as in eventop-core (see its build script): the BSDs and Apple's systems,
//! or any target built with `--cfg eventop_libkqueue`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(eventop_kqueue, eventop_libkqueue)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let bsd = ["freebsd", "netbsd", "openbsd", "dragonfly", "macos", "ios"].contains(&os.as_str());
    if bsd || std::env::var_os("CARGO_CFG_EVENTOP_LIBKQUEUE").is_some() {
        println!("cargo::rustc-cfg=eventop_kqueue");
    }
}
