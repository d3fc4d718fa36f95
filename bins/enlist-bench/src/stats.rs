//! Latency samples, progress on stderr, and the report: one line per
//! figure (`name value unit`), or JSON.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one client saw: latencies in microseconds per kind of request,
/// and errors (with the first one's description, to act on).
#[derive(Default)]
pub struct Samples {
    pub latencies: BTreeMap<&'static str, Vec<u32>>,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Samples {
    pub fn record(&mut self, kind: &'static str, took: Duration) {
        self.latencies.entry(kind).or_default().push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    pub fn merge(&mut self, other: Samples) {
        for (k, mut v) in other.latencies {
            self.latencies.entry(k).or_default().append(&mut v);
        }
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// The `q` quantile of `kind` in milliseconds.
    pub fn quantile_ms(&mut self, kind: &str, q: f64) -> f64 {
        let Some(v) = self.latencies.get_mut(kind) else { return 0.0 };
        if v.is_empty() {
            return 0.0;
        }
        v.sort_unstable();
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        f64::from(v[i]) / 1000.0
    }

    pub fn count(&self, kind: &str) -> usize {
        self.latencies.get(kind).map_or(0, Vec::len)
    }
}

/// The figures of one run, printed at the end.
pub struct Report {
    scenario: String,
    figures: Vec<(String, f64, &'static str)>,
}

impl Report {
    pub fn new(scenario: &str) -> Self {
        Self { scenario: scenario.to_owned(), figures: Vec::new() }
    }

    pub fn add(&mut self, name: &str, value: f64, unit: &'static str) {
        self.figures.push((format!("{}.{name}", self.scenario), value, unit));
    }

    /// Adds this report's figures to `other` (under their own names).
    pub fn append_to(self, other: &mut Report) {
        other.figures.extend(self.figures);
    }

    /// Rate, p50, p99 of `kind`, and the error count.
    pub fn latency(&mut self, s: &mut Samples, kind: &str, name: &str) {
        self.add(&format!("{name}.p50"), s.quantile_ms(kind, 0.50), "ms");
        self.add(&format!("{name}.p99"), s.quantile_ms(kind, 0.99), "ms");
    }

    pub fn print(&self, json: bool) {
        if json {
            let figures: Vec<_> = self
                .figures
                .iter()
                .map(|(n, v, u)| serde_json::json!({"name": n, "value": round(*v), "unit": u}))
                .collect();
            println!("{}", serde_json::json!({"scenario": self.scenario, "figures": figures}));
        } else {
            for (n, v, u) in &self.figures {
                println!("{n} {} {u}", round(*v));
            }
        }
    }
}

fn round(v: f64) -> f64 {
    if v.abs() >= 100.0 {
        v.round()
    } else {
        (v * 100.0).round() / 100.0
    }
}

/// A progress bar on stderr while a phase runs: redrawn in place on a
/// terminal, a line every few seconds otherwise. Stops when dropped.
pub struct Progress {
    pub done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    pub fn start(label: &str, total: u64, limit: Duration) -> Self {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s, label) = (done.clone(), stop.clone(), label.to_owned());
        let tty = std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let every = if tty { Duration::from_millis(250) } else { Duration::from_secs(5) };
            while !s.load(Ordering::Relaxed) {
                tokio::time::sleep(every).await;
                let n = d.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64();
                // Done when the work or the time runs out, whichever first.
                let frac = (n as f64 / total.max(1) as f64).max(secs / limit.as_secs_f64()).min(1.0);
                let bar: String = (0..30).map(|i| if (i as f64) < frac * 30.0 { '#' } else { '.' }).collect();
                let line = format!("{label} [{bar}] {n}/{total} {:.0}/s {secs:.0}s", n as f64 / secs.max(1e-3));
                let mut err = std::io::stderr();
                let _ = if tty { write!(err, "\r{line}\x1b[K") } else { writeln!(err, "{line}") };
            }
            if tty {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        });
        Self { done, stop, task: Some(task) }
    }

    pub fn tick(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.task.take() {
            t.abort();
            if std::io::stderr().is_terminal() {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut s = Samples::default();
        for ms in 1..=100u64 {
            s.record("x", Duration::from_millis(ms));
        }
        assert_eq!(s.quantile_ms("x", 0.5), 50.0);
        assert_eq!(s.quantile_ms("x", 0.99), 99.0);
        assert_eq!(s.quantile_ms("missing", 0.99), 0.0);
    }
}
