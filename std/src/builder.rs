//! [`Builder`]: how a [`Base`] is configured (libevent's `event_config`).

use eventop_core::selection::{self, Config};
use eventop_core::sys::hosted::Hosted;
use eventop_core::{Backend, BaseFlags, Features};

use crate::backend::Loop;
use crate::{Base, Error, Result};

/// Configures and builds a [`Base`].
///
/// ```
/// use eventop::{Builder, Features};
/// let base: eventop::Base = Builder::new().avoid("select").require(Features::O1).priorities(3).build()?;
/// assert_eq!(base.backend_name(), "epoll");
/// # Ok::<(), eventop::Error>(())
/// ```
pub struct Builder {
    avoid: Vec<String>,
    require: Features,
    flags: BaseFlags,
    priorities: u8,
    env: Box<dyn FnMut(&str) -> bool>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The default: any backend, no flags, one priority, and the process environment's
    /// `EVENT_*` variables (ignored in setuid and setgid processes, as libevent ignores them).
    pub fn new() -> Builder {
        Builder {
            avoid: Vec::new(),
            require: Features::empty(),
            flags: BaseFlags::empty(),
            priorities: 1,
            env: Box::new(|name| !privileged() && std::env::var_os(name).is_some()),
        }
    }

    /// Never use the backend called `name` (`"epoll"`, `"poll"`, `"select"`, `"kqueue"`).
    pub fn avoid(mut self, name: impl Into<String>) -> Builder {
        self.avoid.push(name.into());
        self
    }

    /// Use only a backend with all of `features`.
    pub fn require(mut self, features: Features) -> Builder {
        self.require |= features;
        self
    }

    /// Do not read the `EVENT_*` environment variables (libevent's
    /// `EVENT_BASE_FLAG_IGNORE_ENV`), nor the [`env`](Self::env) lookup.
    pub fn ignore_env(mut self) -> Builder {
        self.flags |= BaseFlags::IGNORE_ENV;
        self
    }

    /// Read the clock at every use instead of once per iteration (libevent's
    /// `EVENT_BASE_FLAG_NO_CACHE_TIME`).
    pub fn no_cache_time(mut self) -> Builder {
        self.flags |= BaseFlags::NO_CACHE_TIME;
        self
    }

    /// With epoll, batch interest changes until the loop next waits (libevent's
    /// `EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST`): fewer system calls when an fd's interest changes
    /// often, but an error comes later, from
    /// [`Base::take_deferred_error`](crate::Base::take_deferred_error).
    pub fn epoll_changelist(mut self) -> Builder {
        self.flags |= BaseFlags::EPOLL_USE_CHANGELIST;
        self
    }

    /// The number of priorities, 1 to 255.
    pub fn priorities(mut self, n: u8) -> Builder {
        self.priorities = n;
        self
    }

    /// Where `EVENT_*` variables are looked up: `lookup(name)` says whether `name` is set.
    pub fn env(mut self, lookup: impl FnMut(&str) -> bool + 'static) -> Builder {
        self.env = Box::new(lookup);
        self
    }

    /// Picks a backend and builds the base. No usable backend is [`Error::NoBackend`], which
    /// says which were skipped and why.
    pub fn build<D>(mut self) -> Result<Base<D>> {
        let avoid: Vec<&str> = self.avoid.iter().map(String::as_str).collect();
        let config = Config {
            avoid: &avoid,
            require: self.require,
            flags: self.flags,
        };
        let selected = selection::select(Hosted::TABLE, &config, &mut *self.env)
            .map_err(|e| Error::NoBackend(e.to_string()))?;
        if selected.show_method {
            eprintln!("eventop using: {}", selected.backend.info().name);
        }
        let core = crate::cores::Core::new(selected.backend, selected.flags, Loop::new);
        let mut base = Base::from_core(core);
        base.set_priorities(self.priorities)?;
        Ok(base)
    }
}

/// The backends compiled in, in order of preference, whatever the environment says
/// (libevent's `event_get_supported_methods`).
pub fn supported_backends() -> Vec<&'static str> {
    Hosted::<crate::Growable>::TABLE
        .iter()
        .map(|d| d.name)
        .collect()
}

/// Whether this process runs with ids it was not started with (setuid or setgid).
fn privileged() -> bool {
    // SAFETY: the id getters take no arguments and cannot fail.
    unsafe { libc::getuid() != libc::geteuid() || libc::getgid() != libc::getegid() }
}
