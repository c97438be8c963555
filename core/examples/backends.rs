//! Prints the backend table, which backends this machine offers, and which one selection picks.
//!
//! Run: `cargo run -p eventop-core --example backends`. Try it with `EVENT_NOEPOLL=1`, or with
//! `EVENT_NOEPOLL=1 EVENT_NOPOLL=1 EVENT_NOSELECT=1` for the "no backend" error.

use eventop_core::selection::{Config, Skip};
use eventop_core::sys::hosted::{FixedBuffers, Hosted};
use eventop_core::{Backend, BaseFlags, Features};

type Table = Hosted<FixedBuffers<64>>;

fn features(f: Features) -> String {
    let names: Vec<_> = f.iter_names().map(|(n, _)| n).collect();
    format!("{:#04x} {}", f.bits(), names.join("|"))
}

fn main() {
    println!("backend table, in order of preference:");
    for d in Table::TABLE {
        // Asked for io_uring, so that it says whether it proves itself here.
        let offered = match (d.init)(BaseFlags::IO_URING) {
            Ok(b) => format!("available (need_reinit={})", b.info().need_reinit),
            Err(e) => format!("unavailable: {e}"),
        };
        println!(
            "  {:<8} features {:<28} {offered}",
            d.name,
            features(d.features)
        );
    }

    match Table::select(&Config::default()) {
        Ok(s) => {
            let info = s.backend.info();
            println!(
                "selection picks: {} (features {})",
                info.name,
                features(info.features)
            );
            if s.show_method {
                println!("eventop using: {}", info.name);
            }
        }
        Err(e) => {
            println!("selection fails: {e}");
            let env = e
                .skipped()
                .iter()
                .filter(|(_, why)| *why == Skip::DisabledByEnv)
                .count();
            println!("({env} disabled by EVENT_NO* variables)");
            std::process::exit(1);
        }
    }
    let cfg = Config {
        flags: BaseFlags::EPOLL_USE_CHANGELIST,
        ..Config::default()
    };
    if let Ok(s) = Table::select(&cfg) {
        println!("with EPOLL_USE_CHANGELIST: {}", s.backend.info().name);
    }
    let cfg = Config {
        flags: BaseFlags::IO_URING,
        ..Config::default()
    };
    if let Ok(s) = Table::select(&cfg) {
        println!("with IO_URING: {}", s.backend.info().name);
    }
}
