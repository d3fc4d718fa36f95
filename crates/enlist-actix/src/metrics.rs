//! Request metrics in Prometheus text format: counts by route and status,
//! and a latency histogram by route. Process-local by nature (each process
//! exposes its own; Prometheus sums them), never used for correctness.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket bounds, seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Request counters and latencies.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
}

impl Metrics {
    /// Records one request.
    pub fn record(&self, route: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((route, status)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route).or_default();
            let s = elapsed.as_secs_f64();
            for (i, b) in BUCKETS.iter().enumerate() {
                if s <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += s;
            h.count += 1;
        }
    }

    /// The Prometheus text exposition, with `extra` gauges appended (one
    /// HELP and TYPE line per name, then each labelled value).
    pub fn render(&self, extra: &[Gauge]) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP enlist_http_requests_total HTTP requests by route and status.");
        let _ = writeln!(out, "# TYPE enlist_http_requests_total counter");
        if let Ok(r) = self.requests.lock() {
            for ((route, status), n) in r.iter() {
                let _ = writeln!(out, "enlist_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        let _ = writeln!(out, "# HELP enlist_http_request_duration_seconds Request latency by route.");
        let _ = writeln!(out, "# TYPE enlist_http_request_duration_seconds histogram");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "enlist_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "enlist_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "enlist_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
                let _ = writeln!(out, "enlist_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
            }
        }
        let mut described: Vec<&str> = Vec::new();
        for g in extra {
            if !described.contains(&g.name) {
                described.push(g.name);
                let _ = writeln!(out, "# HELP {} {}\n# TYPE {} gauge", g.name, g.help, g.name);
            }
            match &g.label {
                Some((k, v)) => {
                    let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                    let _ = writeln!(out, "{}{{{k}=\"{v}\"}} {}", g.name, g.value);
                }
                None => {
                    let _ = writeln!(out, "{} {}", g.name, g.value);
                }
            }
        }
        out
    }
}

/// One gauge value for `/metrics`, from the process around the endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    /// Metric name.
    pub name: &'static str,
    /// Its help text.
    pub help: &'static str,
    /// One label (name, value), if any.
    pub label: Option<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

impl Gauge {
    /// An unlabelled gauge.
    pub fn new(name: &'static str, help: &'static str, value: f64) -> Self {
        Self { name, help, label: None, value }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::default();
        m.record("/Users", 200, Duration::from_millis(3));
        m.record("/Users", 200, Duration::from_millis(30));
        m.record("/Users", 404, Duration::from_millis(1));
        let lag =
            |c: &str, v| Gauge { name: "lag", help: "Behind.", label: Some(("consumer", c.to_owned())), value: v };
        let text = m.render(&[
            Gauge::new("enlist_outbox_depth", "Unsent notifications.", 4.0),
            lag("a", 1.0),
            lag("b\"x", 2.0),
        ]);
        assert!(text.contains("enlist_http_requests_total{route=\"/Users\",status=\"200\"} 2"), "{text}");
        assert!(
            text.contains("enlist_http_request_duration_seconds_bucket{route=\"/Users\",le=\"0.005\"} 2"),
            "{text}"
        );
        assert!(text.contains("enlist_http_request_duration_seconds_bucket{route=\"/Users\",le=\"0.05\"} 3"), "{text}");
        assert!(text.contains("enlist_outbox_depth 4"), "{text}");
        // One HELP per name; label values escaped.
        assert_eq!(text.matches("# HELP lag ").count(), 1, "{text}");
        assert!(text.contains("lag{consumer=\"a\"} 1\nlag{consumer=\"b\\\"x\"} 2"), "{text}");
    }
}
