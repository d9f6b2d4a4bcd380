//! The descriptor budget: raise the soft `RLIMIT_NOFILE` to the hard one, and
//! derive how many connections fit under it.
//!
//! systemd starts services with a soft limit of 1024 (the hard one is far
//! higher): left there, about a thousand clients exhaust the process, and then
//! `accept()` fails for everyone and no store file can be opened.

/// The process's descriptor limits around [`raise_nofile_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NofileLimit {
    /// The soft limit found at start-up (`None`: unlimited).
    pub soft_before: Option<u64>,
    /// The soft limit now.
    pub soft: Option<u64>,
    /// The hard limit (`None`: unlimited).
    pub hard: Option<u64>,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns both (the
/// soft one unchanged when the kernel refuses, with the cause).
pub fn raise_nofile_limit() -> (NofileLimit, Option<std::io::Error>) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    let mut limit = NofileLimit {
        soft_before: before.current,
        soft: before.current,
        hard: before.maximum,
    };
    if before.current == before.maximum {
        return (limit, None);
    }
    let raised = Rlimit {
        current: before.maximum,
        maximum: before.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            limit.soft = getrlimit(Resource::Nofile).current;
            (limit, None)
        }
        Err(e) => (limit, Some(e.into())),
    }
}

/// The soft `RLIMIT_NOFILE` now (`None`: unlimited).
pub(crate) fn soft_nofile_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Connections that fit when each may hold two descriptors (its socket, and
/// the store file or upstream socket its request uses) and `reserve` are kept
/// for the server itself. Never fewer than 16, never more than a million.
pub(crate) fn connections_for(soft: Option<u64>, reserve: u64) -> usize {
    const MIN: u64 = 16;
    const MAX: u64 = 1 << 20;
    let soft = soft.unwrap_or(u64::MAX);
    (soft.saturating_sub(reserve) / 2).clamp(MIN, MAX) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_leave_the_reserve_and_two_descriptors_each() {
        assert_eq!(connections_for(Some(1024), 256), 384);
        assert_eq!(connections_for(Some(524_288), 256), 262_016);
        assert_eq!(connections_for(Some(100), 256), 16);
        assert_eq!(connections_for(None, 256), 1 << 20);
    }
}
