//! Gives the C library its soname, so a program linked against it records `libeventop.so.0`.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "macos" && os != "ios" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libeventop.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
