//! What the monitor measures: arrival and departure rates over a time
//! window, service and wait times over the last events, the average load,
//! and work in progress by Little's law (wip = arrival rate x service time).

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Buckets per rate window: fine enough that the rate falls smoothly once
/// events stop, coarse enough that counting costs nothing.
const RATE_BUCKETS: u32 = 100;

/// A reading of the queue. Averages read 0 during the warm-up interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Milliseconds since the Unix epoch.
    pub timestamp: f64,
    /// Events waiting for a consumer.
    pub qsize: usize,
    /// Consumers handling an event.
    pub busy: usize,
    /// Consumers in the pool.
    pub consumers: usize,
    /// busy / consumers, now.
    pub load: f64,
    /// Mean load over the average-load interval.
    pub avg_load: f64,
    /// Mean seconds from a consumer taking an event to its last result.
    pub service_time: f64,
    /// Mean seconds an event waited in the queue.
    pub wait_time: f64,
    /// Events published per second over the metrics window.
    pub arrival_rate: f64,
    /// Events completed per second over the metrics window.
    pub departure_rate: f64,
    /// Events in service by Little's law: arrival_rate x service_time.
    pub wip: f64,
    /// Events completed since the queue started.
    pub event_count: u64,
}

/// The windows behind `Metrics`, updated by publishers, consumers and the
/// monitor under one lock.
#[derive(Debug)]
pub(crate) struct Stats {
    started: Instant,
    warmup: Duration,
    arrivals: RateWindow,
    departures: RateWindow,
    service: MeanWindow,
    wait: MeanWindow,
    load: MeanWindow,
    event_count: u64,
}

/// How the windows are sized.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows {
    pub rate: Duration,
    pub events: usize,
    pub load_samples: usize,
    pub warmup: Duration,
}

/// Load samples are kept as millionths, so their window sums exactly.
const LOAD_SCALE: f64 = 1e6;

impl Stats {
    pub fn new(now: Instant, windows: Windows) -> Stats {
        Stats {
            started: now,
            warmup: windows.warmup,
            arrivals: RateWindow::new(now, windows.rate),
            departures: RateWindow::new(now, windows.rate),
            service: MeanWindow::new(windows.events),
            wait: MeanWindow::new(windows.events),
            load: MeanWindow::new(windows.load_samples),
            event_count: 0,
        }
    }

    pub fn arrived(&mut self, now: Instant, events: u64) {
        self.arrivals.add(now, events);
    }

    pub fn completed(&mut self, now: Instant, wait: Duration, service: Duration) {
        self.departures.add(now, 1);
        self.wait.push(wait.as_nanos() as u64);
        self.service.push(service.as_nanos() as u64);
        self.event_count += 1;
    }

    pub fn sample_load(&mut self, busy: usize, consumers: usize) {
        self.load.push((load(busy, consumers) * LOAD_SCALE) as u64);
    }

    pub fn read(&mut self, now: Instant, qsize: usize, busy: usize, consumers: usize) -> Metrics {
        let mut metrics = Metrics {
            timestamp: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64() * 1e3),
            qsize,
            busy,
            consumers,
            load: load(busy, consumers),
            event_count: self.event_count,
            ..Metrics::default()
        };
        if now.duration_since(self.started) >= self.warmup {
            metrics.avg_load = self.load.mean() / LOAD_SCALE;
            metrics.service_time = self.service.mean() / 1e9;
            metrics.wait_time = self.wait.mean() / 1e9;
            metrics.arrival_rate = self.arrivals.rate(now);
            metrics.departure_rate = self.departures.rate(now);
            metrics.wip = metrics.arrival_rate * metrics.service_time;
        }
        metrics
    }
}

fn load(busy: usize, consumers: usize) -> f64 {
    if consumers == 0 {
        0.0
    } else {
        busy as f64 / consumers as f64
    }
}

/// Counts per time bucket over a sliding window. The rate divides by the
/// time the counted buckets span (at most the window), so it is right from
/// the first second of load instead of climbing for a whole window.
#[derive(Debug)]
struct RateWindow {
    origin: Instant,
    width: Duration,
    buckets: u64,
    /// (bucket number since `origin`, count), oldest first, non-empty buckets only.
    counts: VecDeque<(u64, u64)>,
    total: u64,
}

impl RateWindow {
    fn new(origin: Instant, window: Duration) -> RateWindow {
        RateWindow {
            origin,
            width: (window / RATE_BUCKETS).max(Duration::from_millis(1)),
            buckets: RATE_BUCKETS as u64,
            counts: VecDeque::new(),
            total: 0,
        }
    }

    fn bucket(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.origin).as_nanos() / self.width.as_nanos()) as u64
    }

    fn add(&mut self, now: Instant, n: u64) {
        let bucket = self.bucket(now);
        match self.counts.back_mut() {
            Some((b, count)) if *b == bucket => *count += n,
            _ => self.counts.push_back((bucket, n)),
        }
        self.total += n;
        self.expire(bucket);
    }

    fn expire(&mut self, current: u64) {
        while let Some(&(b, count)) = self.counts.front() {
            if b + self.buckets > current {
                break;
            }
            self.counts.pop_front();
            self.total -= count;
        }
    }

    fn rate(&mut self, now: Instant) -> f64 {
        self.expire(self.bucket(now));
        let Some(&(first, _)) = self.counts.front() else {
            return 0.0;
        };
        let start = self.origin + Duration::from_nanos((self.width.as_nanos() as u64).saturating_mul(first));
        let span = now.saturating_duration_since(start);
        self.total as f64 / span.as_secs_f64().max(self.width.as_secs_f64())
    }
}

/// The mean of the last `capacity` values.
#[derive(Debug)]
struct MeanWindow {
    values: VecDeque<u64>,
    capacity: usize,
    sum: u128,
}

impl MeanWindow {
    fn new(capacity: usize) -> MeanWindow {
        MeanWindow {
            values: VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
            sum: 0,
        }
    }

    fn push(&mut self, value: u64) {
        if self.values.len() == self.capacity {
            if let Some(old) = self.values.pop_front() {
                self.sum -= old as u128;
            }
        }
        self.values.push_back(value);
        self.sum += value as u128;
    }

    fn mean(&self) -> f64 {
        if self.values.is_empty() {
            0.0
        } else {
            self.sum as f64 / self.values.len() as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(warmup_ms: u64) -> Windows {
        Windows {
            rate: Duration::from_secs(5),
            events: 4,
            load_samples: 2,
            warmup: Duration::from_millis(warmup_ms),
        }
    }

    #[test]
    fn averages_read_zero_during_warmup() {
        let t0 = Instant::now();
        let mut stats = Stats::new(t0, windows(3000));
        stats.arrived(t0, 10);
        stats.completed(t0, Duration::from_millis(5), Duration::from_millis(50));
        stats.sample_load(1, 2);
        let m = stats.read(t0 + Duration::from_secs(1), 3, 1, 2);
        assert_eq!((m.qsize, m.busy, m.consumers, m.load, m.event_count), (3, 1, 2, 0.5, 1));
        assert_eq!(
            (m.avg_load, m.service_time, m.wait_time, m.arrival_rate, m.wip),
            (0.0, 0.0, 0.0, 0.0, 0.0)
        );
        assert!(stats.read(t0 + Duration::from_secs(3), 0, 0, 2).service_time > 0.0);
    }

    #[test]
    fn littles_law_from_a_steady_stream() {
        // 200 events/s for 2 s, each served in 50 ms: 10 in service.
        let t0 = Instant::now();
        let mut stats = Stats::new(t0, windows(0));
        for i in 0..400u32 {
            let at = t0 + Duration::from_millis(5) * i;
            stats.arrived(at, 1);
            stats.completed(at, Duration::ZERO, Duration::from_millis(50));
        }
        let m = stats.read(t0 + Duration::from_secs(2), 0, 10, 12);
        assert!((m.arrival_rate - 200.0).abs() < 10.0, "{}", m.arrival_rate);
        assert!((m.service_time - 0.05).abs() < 1e-9);
        assert!((m.wip - 10.0).abs() < 0.5, "{}", m.wip);
    }

    #[test]
    fn rates_fall_to_zero_a_window_after_events_stop() {
        let t0 = Instant::now();
        let mut stats = Stats::new(t0, windows(0));
        for i in 0..100u32 {
            stats.arrived(t0 + Duration::from_millis(10) * i, 1);
        }
        let soon = stats.read(t0 + Duration::from_secs(2), 0, 0, 1).arrival_rate;
        let later = stats.read(t0 + Duration::from_secs(4), 0, 0, 1).arrival_rate;
        assert!(soon > later && later > 0.0, "{soon} {later}");
        assert_eq!(stats.read(t0 + Duration::from_secs(7), 0, 0, 1).arrival_rate, 0.0);
    }

    #[test]
    fn means_cover_the_last_events_only() {
        let mut w = MeanWindow::new(2);
        for v in [10, 20, 30] {
            w.push(v);
        }
        assert_eq!(w.mean(), 25.0);
    }
}
