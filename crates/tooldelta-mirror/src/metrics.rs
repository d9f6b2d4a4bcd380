//! Prometheus metrics (OpenMetrics text on `/metrics`).
//!
//! The five counters of CONTRACT §4 are plain counters so they appear with
//! value 0 from the first scrape; the request-duration histogram carries the
//! route template and status code (its `_count` is the per-status request count).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::conn::ConnMetrics;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    /// The route template (`/api/v1/blobs/sha256/{hex}`), never the raw path,
    /// so the label set stays bounded.
    pub route: String,
    /// `GET`, `HEAD` or `other`.
    pub method: String,
}

/// Labels of the duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StatusLabels {
    /// The route template.
    pub route: String,
    /// The HTTP status code.
    pub status: u16,
}

/// Every metric the mirror exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) requests: Family<RouteLabels, Counter>,
    pub(crate) duration: Family<StatusLabels, Histogram>,
    pub(crate) bytes_served: Counter,
    pub(crate) cache_hits: Counter,
    pub(crate) cache_misses: Counter,
    pub(crate) upstream_bytes: Counter,
    pub(crate) upstream_fetches: Counter,
    pub(crate) local_chunk_bytes: Counter,
    pub(crate) connections: ConnMetrics,
    pub(crate) fleet: crate::fleet::gauges::FleetMetrics,
    pub(crate) cache_pulled_bytes: prometheus_client::metrics::gauge::Gauge,
    pub(crate) cache_evictions: Counter,
}

fn duration_histogram() -> Histogram {
    // 0.5 ms … ~33 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RouteLabels, Counter>::default();
        let duration = Family::<StatusLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        let bytes_served = Counter::default();
        let cache_hits = Counter::default();
        let cache_misses = Counter::default();
        let upstream_bytes = Counter::default();
        let upstream_fetches = Counter::default();
        let local_chunk_bytes = Counter::default();
        // prometheus-client appends `_total` to counter names.
        registry.register(
            "tooldelta_mirror_requests",
            "HTTP requests received, by route template and method",
            requests.clone(),
        );
        registry.register(
            "tooldelta_mirror_request_duration_seconds",
            "Time from request to response headers, by route template and status",
            duration.clone(),
        );
        registry.register(
            "tooldelta_mirror_bytes_served",
            "Response body bytes sent (content and JSON)",
            bytes_served.clone(),
        );
        registry.register(
            "tooldelta_mirror_cache_hits",
            "Blob and versioned-manifest lookups answered from the local store",
            cache_hits.clone(),
        );
        registry.register(
            "tooldelta_mirror_cache_misses",
            "Blob and versioned-manifest lookups not in the local store (fetched upstream, or 404)",
            cache_misses.clone(),
        );
        registry.register(
            "tooldelta_mirror_upstream_bytes",
            "Bytes received from the upstream mirror",
            upstream_bytes.clone(),
        );
        registry.register(
            "tooldelta_mirror_upstream_fetches",
            "Requests sent to the upstream mirror",
            upstream_fetches.clone(),
        );
        registry.register(
            "tooldelta_mirror_local_chunk_bytes",
            "Bytes of pulled-through blobs rebuilt from chunks already in the store",
            local_chunk_bytes.clone(),
        );
        let connections = ConnMetrics::register(&mut registry);
        let fleet = crate::fleet::gauges::FleetMetrics::register(&mut registry);
        let cache_pulled_bytes = prometheus_client::metrics::gauge::Gauge::default();
        let cache_evictions = Counter::default();
        registry.register(
            "tooldelta_mirror_cache_pulled_bytes",
            "Bytes of blobs pulled through from upstream and stored (what --max-cache-bytes bounds)",
            cache_pulled_bytes.clone(),
        );
        registry.register(
            "tooldelta_mirror_cache_evictions",
            "Pulled blobs evicted to keep the cache under --max-cache-bytes",
            cache_evictions.clone(),
        );
        Self {
            registry,
            requests,
            duration,
            bytes_served,
            cache_hits,
            cache_misses,
            upstream_bytes,
            upstream_fetches,
            local_chunk_bytes,
            connections,
            fleet,
            cache_pulled_bytes,
            cache_evictions,
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
