//! Fault switches: what can go wrong, on which URL, and on which request.
//!
//! A [`Rule`] pairs one [`Fault`] with a path filter and a schedule ([`When`]).
//! Rules live in a [`Faults`] handle shared by the server and the test, so a
//! test can change them between (or during) requests.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// One deviation from a correct HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Ignore `Range`: answer 200 with the whole body.
    IgnoreRange,
    /// Abort the connection after this many body bytes (the `Content-Length`
    /// still promises the whole body, so the client sees a truncated body).
    CutAfter(u64),
    /// Flip every bit of the byte at this offset of the *file* (not of the
    /// response body: a ranged response is corrupted only if it covers it).
    CorruptByte(u64),
    /// Send this many bytes past the end of the file (or range); the
    /// `Content-Length` announces them, so HTTP framing stays valid.
    ExtraBytes(u64),
    /// After the file, send filler bytes forever (chunked, no `Content-Length`).
    EndlessBody,
    /// Answer this status (e.g. 503, 500, 404) instead of serving.
    ErrorStatus(u16),
    /// After `bytes` body bytes, send nothing for `duration` while keeping
    /// the connection open, then carry on.
    StallAfter {
        /// Body bytes sent before the stall.
        bytes: u64,
        /// How long nothing is sent.
        duration: Duration,
    },
    /// Wait this long before sending the response head.
    DelayResponse(Duration),
    /// Serve another `ETag` than the real one; `If-Range` and `If-None-Match`
    /// are evaluated against it, as a server whose file changed would.
    ChangeEtag(EtagChange),
    /// Send a wrong or malformed `Content-Range` on 206 answers.
    ContentRange(RangeMutation),
    /// Answer 416 (`Content-Range: bytes */size`) to every ranged request.
    RangeNotSatisfiable,
    /// Limit the body rate to this many bytes per second. The budget is shared
    /// by every response the rule applies to, so an update fetching several
    /// files at once still takes `total / rate` seconds.
    Throttle(u64),
    /// Limit each response's body to this many bytes per second on its own
    /// (the shape of a WAN link or CDN that caps every connection): several
    /// ranged requests at once get several times the rate of one stream.
    ThrottlePerConnection(u64),
}

impl Fault {
    /// Faults that only make sense for a request with a `Range` header; their
    /// rules count (and apply to) ranged requests only.
    fn needs_range(&self) -> bool {
        matches!(
            self,
            Fault::IgnoreRange | Fault::RangeNotSatisfiable | Fault::ContentRange(_)
        )
    }
}

/// How [`Fault::ChangeEtag`] changes the `ETag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtagChange {
    /// A different `ETag` on every request the rule applies to.
    PerRequest,
    /// One fixed `ETag` (`"changed-etag"`) that differs from the real one;
    /// combine with [`Rule::after`] for "changes after the first request".
    Fixed,
}

/// The ways [`Fault::ContentRange`] breaks `Content-Range` (after Mender's
/// resume tests). The body is always the bytes actually asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeMutation {
    /// `bytes (a+1)-b/size`: the start is off by one.
    StartOffByOne,
    /// `bytes 0-b/size` whatever was asked: claims the body starts at zero.
    StartAtZero,
    /// `bytes a-b/(size+1)`: the total is wrong.
    WrongTotal,
    /// `bytes a-b/*`: the total is unknown (valid HTTP, but unverifiable).
    UnknownTotal,
    /// `bytes garbage`: not parseable.
    Garbage,
    /// A 206 without any `Content-Range`.
    Missing,
}

/// Which path a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathFilter {
    /// Every path.
    Any,
    /// This exact request path (as sent, percent-encoded, without query).
    Exact(String),
    /// Paths starting with this prefix (e.g. `/api/v1/blobs/`).
    Prefix(String),
}

impl PathFilter {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathFilter::Any => true,
            PathFilter::Exact(p) => p == path,
            PathFilter::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

/// On which of the requests it matches a rule fires, counting from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every matching request.
    Always,
    /// The first `n` matching requests only.
    First(u64),
    /// Every `n`-th matching request (n, 2n, …); `EveryNth(2)` hits half of them.
    EveryNth(u64),
    /// Every matching request after the first `n`.
    After(u64),
}

impl When {
    fn fires(self, index: u64) -> bool {
        match self {
            When::Always => true,
            When::First(n) => index <= n,
            When::EveryNth(n) => n != 0 && index.is_multiple_of(n),
            When::After(n) => index > n,
        }
    }
}

/// A fault, where it applies and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// What goes wrong.
    pub fault: Fault,
    /// Which paths.
    pub path: PathFilter,
    /// Which of the matching requests.
    pub when: When,
}

impl Rule {
    /// `fault` on every request to every path.
    pub fn new(fault: Fault) -> Self {
        Self {
            fault,
            path: PathFilter::Any,
            when: When::Always,
        }
    }

    /// Only for this exact request path (e.g. `/api/v1/blobs/sha256/<hex>`).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = PathFilter::Exact(path.into());
        self
    }

    /// Only for paths starting with `prefix`.
    #[must_use]
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path = PathFilter::Prefix(prefix.into());
        self
    }

    /// Only the first `n` matching requests.
    #[must_use]
    pub fn first(mut self, n: u64) -> Self {
        self.when = When::First(n);
        self
    }

    /// Every `n`-th matching request.
    #[must_use]
    pub fn every_nth(mut self, n: u64) -> Self {
        self.when = When::EveryNth(n);
        self
    }

    /// Every matching request after the first `n`.
    #[must_use]
    pub fn after(mut self, n: u64) -> Self {
        self.when = When::After(n);
        self
    }
}

impl From<Fault> for Rule {
    fn from(fault: Fault) -> Self {
        Rule::new(fault)
    }
}

/// A rule with its run-time state.
#[derive(Debug)]
struct Armed {
    rule: Rule,
    /// Matching requests seen so far.
    seen: u64,
    /// Shared rate budget of a [`Fault::Throttle`] rule.
    pacer: Option<Arc<Pacer>>,
}

/// The fault switches of a running server. Cheap to clone; every clone
/// controls the same server.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<Armed>>>,
}

impl Faults {
    /// Replaces every rule by this one (a [`Fault`] alone applies always, everywhere).
    pub fn set(&self, rule: impl Into<Rule>) {
        let mut rules = self.lock();
        rules.clear();
        rules.push(arm(rule.into()));
    }

    /// Adds a rule; all rules that fire on a request apply together.
    pub fn add(&self, rule: impl Into<Rule>) {
        self.lock().push(arm(rule.into()));
    }

    /// Removes every rule: the server behaves correctly again.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The rules now in force.
    pub fn rules(&self) -> Vec<Rule> {
        self.lock().iter().map(|a| a.rule.clone()).collect()
    }

    /// Counts this request against every rule that matches it and returns what
    /// fires.
    pub(crate) fn activate(&self, path: &str, ranged: bool) -> Active {
        let mut active = Active::default();
        for armed in self.lock().iter_mut() {
            if !armed.rule.path.matches(path) || (armed.rule.fault.needs_range() && !ranged) {
                continue;
            }
            armed.seen += 1;
            if armed.rule.when.fires(armed.seen) {
                active.take(&armed.rule.fault, armed.seen, armed.pacer.as_ref());
            }
        }
        active
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Armed>> {
        // A panicking test thread must not take the server down with it.
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn arm(rule: Rule) -> Armed {
    let pacer = match rule.fault {
        Fault::Throttle(bps) => Some(Arc::new(Pacer::new(bps))),
        _ => None,
    };
    Armed {
        rule,
        seen: 0,
        pacer,
    }
}

/// Everything that fires on one request.
#[derive(Debug, Default)]
pub(crate) struct Active {
    pub(crate) error_status: Option<u16>,
    pub(crate) delay: Option<Duration>,
    pub(crate) ignore_range: bool,
    pub(crate) range_416: bool,
    pub(crate) content_range: Option<RangeMutation>,
    pub(crate) etag: Option<String>,
    pub(crate) body: BodyPlan,
    /// The faults applied, for the request log.
    pub(crate) names: Vec<String>,
}

/// The body-level faults of one response.
#[derive(Debug, Default, Clone)]
pub(crate) struct BodyPlan {
    pub(crate) cut_after: Option<u64>,
    pub(crate) corrupt: Vec<u64>,
    pub(crate) extra: u64,
    pub(crate) endless: bool,
    pub(crate) stall: Option<(u64, Duration)>,
    pub(crate) pacer: Option<Arc<Pacer>>,
}

impl Active {
    fn take(&mut self, fault: &Fault, index: u64, pacer: Option<&Arc<Pacer>>) {
        self.names.push(format!("{fault:?}"));
        match fault {
            Fault::IgnoreRange => self.ignore_range = true,
            Fault::CutAfter(n) => {
                self.body.cut_after = Some(self.body.cut_after.map_or(*n, |m| m.min(*n)));
            }
            Fault::CorruptByte(k) => self.body.corrupt.push(*k),
            Fault::ExtraBytes(n) => self.body.extra += n,
            Fault::EndlessBody => self.body.endless = true,
            Fault::ErrorStatus(s) => self.error_status = Some(*s),
            Fault::StallAfter { bytes, duration } => self.body.stall = Some((*bytes, *duration)),
            Fault::DelayResponse(d) => self.delay = Some(*d),
            Fault::ChangeEtag(EtagChange::PerRequest) => {
                self.etag = Some(format!("\"changed-{index}\""));
            }
            Fault::ChangeEtag(EtagChange::Fixed) => self.etag = Some("\"changed-etag\"".into()),
            Fault::ContentRange(m) => self.content_range = Some(*m),
            Fault::RangeNotSatisfiable => self.range_416 = true,
            Fault::Throttle(_) => self.body.pacer = pacer.cloned(),
            // A fresh budget per response: a response is one connection's
            // use of it (keep-alive serves the next one after this ends).
            Fault::ThrottlePerConnection(bps) => self.body.pacer = Some(Arc::new(Pacer::new(*bps))),
        }
    }
}

/// A byte-rate budget shared by several responses: each chunk books the next
/// free slot of the line, so concurrent bodies share the rate and an idle
/// line banks no burst.
#[derive(Debug)]
pub(crate) struct Pacer {
    bytes_per_sec: u64,
    next_free: Mutex<Option<Instant>>,
}

/// How many slices a second of budget is cut into: small enough that a
/// throttled body flows steadily, large enough that timers do not dominate.
const SLICES_PER_SEC: u64 = 20;

impl Pacer {
    fn new(bytes_per_sec: u64) -> Self {
        Self {
            bytes_per_sec: bytes_per_sec.max(1),
            next_free: Mutex::new(None),
        }
    }

    /// The largest chunk sent in one slot.
    pub(crate) fn chunk_size(&self) -> u64 {
        (self.bytes_per_sec / SLICES_PER_SEC).max(1)
    }

    /// Books `n` bytes and returns when they may be sent.
    pub(crate) fn reserve(&self, n: u64) -> Instant {
        let now = Instant::now();
        let mut next = self
            .next_free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = next.map_or(now, |t| t.max(now));
        let nanos = u128::from(n) * 1_000_000_000 / u128::from(self.bytes_per_sec);
        *next = Some(start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)));
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_count_matching_requests_only() {
        let faults = Faults::default();
        faults.set(Rule::new(Fault::ErrorStatus(503)).path("/a").first(2));
        faults.add(Rule::new(Fault::ErrorStatus(500)).every_nth(3));
        let fired: Vec<_> = ["/a", "/b", "/a", "/a", "/b", "/b"]
            .iter()
            .map(|p| faults.activate(p, false).error_status)
            .collect();
        // Rule 2 fires on the 3rd and 6th request; rule 1 on the first two "/a".
        assert_eq!(fired, [Some(503), None, Some(500), None, None, Some(500)]);
    }

    #[test]
    fn range_faults_ignore_unranged_requests() {
        let faults = Faults::default();
        faults.set(Rule::new(Fault::RangeNotSatisfiable).first(1));
        assert!(!faults.activate("/x", false).range_416);
        assert!(faults.activate("/x", true).range_416);
        assert!(!faults.activate("/x", true).range_416);
    }

    #[test]
    fn etag_changes_per_request_or_once() {
        let faults = Faults::default();
        faults.set(Fault::ChangeEtag(EtagChange::PerRequest));
        let a = faults.activate("/x", false).etag;
        let b = faults.activate("/x", false).etag;
        assert_ne!(a, b);
        faults.set(Rule::new(Fault::ChangeEtag(EtagChange::Fixed)).after(1));
        assert_eq!(faults.activate("/x", false).etag, None);
        let c = faults.activate("/x", false).etag;
        assert!(c.is_some());
        assert_eq!(faults.activate("/x", false).etag, c);
    }

    #[test]
    fn pacer_books_consecutive_slots() {
        let pacer = Pacer::new(1000);
        let a = pacer.reserve(500);
        let b = pacer.reserve(500);
        assert_eq!(b - a, Duration::from_millis(500));
        assert_eq!(pacer.chunk_size(), 50);
    }

    #[test]
    fn a_per_connection_throttle_gives_each_response_its_own_budget() {
        let faults = Faults::default();
        faults.set(Fault::ThrottlePerConnection(1000));
        let a = faults.activate("/x", false).body.pacer.unwrap();
        let b = faults.activate("/x", false).body.pacer.unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        // Both may send their first 500 bytes right away.
        let (ta, tb) = (a.reserve(500), b.reserve(500));
        assert!(ta.max(tb) - ta.min(tb) < Duration::from_millis(100));
        faults.set(Fault::Throttle(1000));
        let c = faults.activate("/x", false).body.pacer.unwrap();
        let d = faults.activate("/x", false).body.pacer.unwrap();
        assert!(Arc::ptr_eq(&c, &d), "the shared throttle keeps one budget");
    }
}
