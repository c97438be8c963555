//! Backend selection: walk an ordered table of descriptors and take the first that fits.
//!
//! libevent's rules: skip an entry whose name the config avoids, one that lacks a required
//! feature, and one that `EVENT_NO<NAME>` disables (unless [`BaseFlags::IGNORE_ENV`]); an entry
//! whose constructor fails is skipped too. `EVENT_EPOLL_USE_CHANGELIST`, `EVENT_PRECISE_TIMER` and
//! `EVENT_IO_URING` act as their flags and `EVENT_SHOW_METHOD` asks the adapter to say which backend it got. The
//! environment is whatever the caller's lookup says: core has none of its own (the hosted one is
//! [`crate::sys::env`], which ignores it in setuid and setgid processes, as libevent does).

use core::fmt;

use crate::{BaseFlags, Error, Features};

/// One entry of a selection table.
pub struct Descriptor<B> {
    /// The name `avoid` and `EVENT_NO<NAME>` match.
    pub name: &'static str,
    /// What the backend can do, known before it is built.
    pub features: Features,
    /// Builds the backend; the flags are the config's, with the environment's applied.
    pub init: fn(BaseFlags) -> Result<B, Error>,
}

/// What the caller asks of selection (libevent's `event_config`).
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config<'a> {
    /// Names never to use.
    pub avoid: &'a [&'a str],
    /// Features the backend must have.
    pub require: Features,
    /// The base's flags.
    pub flags: BaseFlags,
}

/// The chosen backend, and what the environment added.
#[derive(Debug)]
pub struct Selected<B> {
    /// The backend.
    pub backend: B,
    /// The config's flags with the environment's applied.
    pub flags: BaseFlags,
    /// `EVENT_SHOW_METHOD` was set: the adapter should report the backend's name.
    pub show_method: bool,
}

/// Why an entry was passed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Skip {
    /// The config avoids its name.
    Avoided,
    /// It lacks these required features.
    LacksFeatures(Features),
    /// `EVENT_NO<NAME>` is set.
    DisabledByEnv,
    /// Its constructor failed.
    Failed(Error),
}

/// How many skipped entries [`NoBackend`] remembers; tables here are shorter.
pub const MAX_SKIPPED: usize = 8;

/// No entry of the table could be used; says which were skipped and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NoBackend {
    skipped: [(&'static str, Skip); MAX_SKIPPED],
    len: u8,
}

impl NoBackend {
    /// Each skipped entry's name and reason, in table order.
    pub fn skipped(&self) -> &[(&'static str, Skip)] {
        &self.skipped[..self.len as usize]
    }

    fn push(&mut self, name: &'static str, why: Skip) {
        if let Some(slot) = self.skipped.get_mut(self.len as usize) {
            *slot = (name, why);
            self.len += 1;
        }
    }
}

impl fmt::Display for NoBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no event mechanism available")?;
        for (i, (name, why)) in self.skipped().iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            match why {
                Skip::Avoided => write!(f, "{name} avoided by the config"),
                Skip::LacksFeatures(m) => write!(f, "{name} lacks features {:#x}", m.bits()),
                Skip::DisabledByEnv => write!(f, "{name} disabled by the environment"),
                Skip::Failed(e) => write!(f, "{name} failed: {e}"),
            }?;
        }
        Ok(())
    }
}

impl core::error::Error for NoBackend {}

/// The longest backend name selection can build `EVENT_NO<NAME>` for.
const MAX_NAME: usize = 24;

/// Picks the first usable entry of `table` for `config`. `env(name)` says whether the environment
/// variable `name` is set; it is not consulted when the config has [`BaseFlags::IGNORE_ENV`].
// The error is a few hundred bytes on a cold path, and core has no Box to shrink it with.
#[allow(clippy::result_large_err)]
pub fn select<B>(
    table: &[Descriptor<B>],
    config: &Config<'_>,
    env: &mut dyn FnMut(&str) -> bool,
) -> Result<Selected<B>, NoBackend> {
    let use_env = !config.flags.contains(BaseFlags::IGNORE_ENV);
    let mut env = |name: &str| use_env && env(name);
    let mut flags = config.flags;
    if env("EVENT_EPOLL_USE_CHANGELIST") {
        flags |= BaseFlags::EPOLL_USE_CHANGELIST;
    }
    if env("EVENT_PRECISE_TIMER") {
        flags |= BaseFlags::PRECISE_TIMER;
    }
    if env("EVENT_IO_URING") {
        flags |= BaseFlags::IO_URING;
    }
    let show_method = env("EVENT_SHOW_METHOD");

    let mut none = NoBackend {
        skipped: [("", Skip::Avoided); MAX_SKIPPED],
        len: 0,
    };
    for d in table {
        let why = if config.avoid.contains(&d.name) {
            Skip::Avoided
        } else if !d.features.contains(config.require) {
            Skip::LacksFeatures(config.require - d.features)
        } else if disabled(d.name, &mut env) {
            Skip::DisabledByEnv
        } else {
            match (d.init)(flags) {
                Ok(backend) => {
                    return Ok(Selected {
                        backend,
                        flags,
                        show_method,
                    })
                }
                Err(e) => Skip::Failed(e),
            }
        };
        none.push(d.name, why);
    }
    Err(none)
}

/// Whether `EVENT_NO<NAME>` (the name upper-cased) is set.
fn disabled(name: &str, env: &mut dyn FnMut(&str) -> bool) -> bool {
    const PREFIX: &[u8] = b"EVENT_NO";
    let mut buf = [0u8; PREFIX.len() + MAX_NAME];
    let Some(var) = buf.get_mut(..PREFIX.len() + name.len()) else {
        return false;
    };
    var[..PREFIX.len()].copy_from_slice(PREFIX);
    for (dst, src) in var[PREFIX.len()..].iter_mut().zip(name.bytes()) {
        *dst = src.to_ascii_uppercase();
    }
    // Upper-casing ASCII bytes of a &str keeps it UTF-8.
    core::str::from_utf8(var).is_ok_and(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pure selection logic: the "backends" are plain numbers.
    fn ok(_: BaseFlags) -> Result<u32, Error> {
        Ok(1)
    }
    fn ok_flags(f: BaseFlags) -> Result<u32, Error> {
        Ok(100 + u32::from(f.bits()))
    }
    fn fails(_: BaseFlags) -> Result<u32, Error> {
        Err(Error::Os {
            call: "epoll_create1",
            errno: crate::Errno(38),
        })
    }

    fn table() -> [Descriptor<u32>; 3] {
        [
            Descriptor {
                name: "epoll",
                features: Features::ET | Features::O1,
                init: ok_flags,
            },
            Descriptor {
                name: "poll",
                features: Features::FDS,
                init: ok,
            },
            Descriptor {
                name: "select",
                features: Features::FDS,
                init: fails,
            },
        ]
    }

    fn env_of(vars: &'static [&'static str]) -> impl FnMut(&str) -> bool {
        move |name| vars.contains(&name)
    }

    #[test]
    fn first_entry_wins_and_env_flags_apply() {
        let cfg = Config::default();
        let s = select(&table(), &cfg, &mut env_of(&["EVENT_EPOLL_USE_CHANGELIST"])).unwrap();
        assert_eq!(s.backend, 100 + 0x10);
        assert_eq!(s.flags, BaseFlags::EPOLL_USE_CHANGELIST);
        assert!(!s.show_method);
    }

    #[test]
    fn env_disables_by_upper_case_name() {
        let cfg = Config::default();
        let s = select(
            &table(),
            &cfg,
            &mut env_of(&["EVENT_NOEPOLL", "EVENT_SHOW_METHOD"]),
        );
        let s = s.unwrap();
        assert_eq!(s.backend, 1);
        assert!(s.show_method);
    }

    #[test]
    fn ignore_env_ignores_it_all() {
        let cfg = Config {
            flags: BaseFlags::IGNORE_ENV,
            ..Config::default()
        };
        let all = &["EVENT_NOEPOLL", "EVENT_SHOW_METHOD", "EVENT_PRECISE_TIMER"];
        let s = select(&table(), &cfg, &mut env_of(all)).unwrap();
        assert_eq!(s.backend, 100 + 0x02);
        assert!(!s.show_method);
    }

    #[test]
    fn avoid_and_require() {
        let cfg = Config {
            avoid: &["poll"],
            require: Features::FDS,
            ..Config::default()
        };
        let err = select(&table(), &cfg, &mut env_of(&[])).unwrap_err();
        assert_eq!(
            err.skipped(),
            &[
                ("epoll", Skip::LacksFeatures(Features::FDS)),
                ("poll", Skip::Avoided),
                (
                    "select",
                    Skip::Failed(Error::Os {
                        call: "epoll_create1",
                        errno: crate::Errno(38)
                    })
                ),
            ]
        );
    }

    #[test]
    fn no_backend_says_why() {
        use core::fmt::Write;
        struct S(heapless::String<256>);
        impl Write for S {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0.push_str(s).map_err(|_| fmt::Error)
            }
        }
        let env = &["EVENT_NOEPOLL", "EVENT_NOPOLL", "EVENT_NOSELECT"];
        let err = select(&table(), &Config::default(), &mut env_of(env)).unwrap_err();
        let mut s = S(heapless::String::new());
        write!(s, "{err}").unwrap();
        assert_eq!(
            s.0.as_str(),
            "no event mechanism available: epoll disabled by the environment; \
             poll disabled by the environment; select disabled by the environment"
        );
    }

    #[test]
    fn over_long_names_are_never_disabled() {
        let long = "a-backend-name-longer-than-twenty-four";
        assert!(!disabled(long, &mut |_| true));
        assert!(disabled("kqueue", &mut |n| n == "EVENT_NOKQUEUE"));
    }
}
