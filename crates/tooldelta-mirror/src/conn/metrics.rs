//! Connection metrics: what is open, what the limits refused, which timeouts
//! closed connections. Registered into the mirror's one registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::limits::Refusal;
use super::watched::TimeoutKind;

/// Label of the refusal counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabels {
    /// `connection_limit` or `address_limit`.
    pub reason: &'static str,
}

/// Label of the timeout counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabels {
    /// `header`, `idle` or `send`.
    pub kind: &'static str,
}

/// The connection metrics; cheap to clone (every metric is shared).
#[derive(Clone, Debug)]
pub(crate) struct ConnMetrics {
    /// Connections being served now.
    pub open: Gauge,
    /// Connections given a slot since start.
    pub accepted: Counter,
    /// Connections answered 503 and closed, by reason.
    pub refused: Family<ReasonLabels, Counter>,
    /// Connections closed by a timeout, by kind.
    pub timeouts: Family<KindLabels, Counter>,
    /// `accept()` failures (descriptor exhaustion among them).
    pub accept_errors: Counter,
    /// The connection limit in force.
    pub limit: Gauge,
    /// The soft `RLIMIT_NOFILE` the server runs with.
    pub descriptor_limit: Gauge,
}

impl ConnMetrics {
    /// Creates the metrics and registers them; every label value starts at 0.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            open: Gauge::default(),
            accepted: Counter::default(),
            refused: Family::default(),
            timeouts: Family::default(),
            accept_errors: Counter::default(),
            limit: Gauge::default(),
            descriptor_limit: Gauge::default(),
        };
        for reason in [Refusal::ConnectionLimit, Refusal::AddressLimit] {
            metrics.refused(reason);
        }
        for kind in [TimeoutKind::Header, TimeoutKind::Idle, TimeoutKind::Send] {
            metrics.timeout(kind);
        }
        registry.register(
            "tooldelta_mirror_open_connections",
            "Client connections being served now",
            metrics.open.clone(),
        );
        registry.register(
            "tooldelta_mirror_connections_accepted",
            "Client connections given a slot",
            metrics.accepted.clone(),
        );
        registry.register(
            "tooldelta_mirror_connections_refused",
            "Client connections answered 503 and closed by a limit, by reason",
            metrics.refused.clone(),
        );
        registry.register(
            "tooldelta_mirror_connection_timeouts",
            "Client connections closed by a timeout, by kind (header, idle, send)",
            metrics.timeouts.clone(),
        );
        registry.register(
            "tooldelta_mirror_accept_errors",
            "Failed accept() calls (for example: out of file descriptors)",
            metrics.accept_errors.clone(),
        );
        registry.register(
            "tooldelta_mirror_connection_limit",
            "Most client connections served at once",
            metrics.limit.clone(),
        );
        registry.register(
            "tooldelta_mirror_descriptor_limit",
            "The soft RLIMIT_NOFILE of the server process",
            metrics.descriptor_limit.clone(),
        );
        metrics
    }

    /// The refusal counter of `reason`.
    pub(crate) fn refused(&self, reason: Refusal) -> Counter {
        self.refused
            .get_or_create(&ReasonLabels {
                reason: reason.label(),
            })
            .clone()
    }

    /// The timeout counter of `kind`.
    pub(crate) fn timeout(&self, kind: TimeoutKind) -> Counter {
        self.timeouts
            .get_or_create(&KindLabels { kind: kind.label() })
            .clone()
    }
}
