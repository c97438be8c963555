//! Where the C library's tests find the workspace and the library cargo built for them.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// The directory of the freshest `libeventop_ffi.so` cargo built for the running test's profile,
/// with the static library beside it (cargo leaves an older copy in the profile directory).
pub fn built_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    let profile = deps.parent().expect("profile dir");
    [profile.to_path_buf(), deps.to_path_buf()]
        .into_iter()
        .filter(|d| d.join("libeventop_ffi.a").exists())
        .filter_map(|d| {
            let t = d
                .join("libeventop_ffi.so")
                .metadata()
                .ok()?
                .modified()
                .ok()?;
            Some((t, d))
        })
        .max()
        .map(|(_, d)| d)
        .expect("libeventop_ffi.so and .a not built: run through cargo test")
}
