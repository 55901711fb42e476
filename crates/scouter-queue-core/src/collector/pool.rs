//! The consumer pool: competing consumers, each a task that takes one event
//! at a time from the shared queue, and the monitor that samples the load
//! and, with autoscaling, sizes the pool between its bounds.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;

use super::Inner;

#[derive(Debug, Default)]
pub(crate) struct Pool {
    /// Consumers running.
    pub live: AtomicUsize,
    /// Consumers wanted; idle consumers above it retire.
    target: AtomicUsize,
    /// Consumers handling an event.
    pub busy: AtomicUsize,
    /// Events arrived, the pool shrank, or shutdown began.
    pub wake: Notify,
    /// A consumer ended.
    pub exited: Notify,
}

impl Pool {
    /// Wakes up to `events` idle consumers for newly queued events.
    pub fn wake_for(&self, events: usize) {
        let idle = self.live.load(SeqCst).saturating_sub(self.busy.load(SeqCst));
        for _ in 0..events.min(idle.max(1)) {
            self.wake.notify_one();
        }
    }

    /// Claims a retirement if the pool is above its target.
    fn retire_one(&self) -> bool {
        let target = self.target.load(SeqCst);
        self.live
            .fetch_update(SeqCst, SeqCst, |live| (live > target).then(|| live - 1))
            .is_ok()
    }
}

/// Sets the pool's size: new consumers start at once, surplus ones retire
/// when they are next idle.
pub(crate) fn resize(inner: &Arc<Inner>, target: usize) {
    let pool = &inner.pool;
    pool.target.store(target, SeqCst);
    let live = pool.live.load(SeqCst);
    if target > live {
        pool.live.fetch_add(target - live, SeqCst);
        for _ in live..target {
            tokio::spawn(consume(inner.clone()));
        }
    } else if target < live {
        pool.wake.notify_waiters();
    }
}

/// How many consumers the load calls for: the work in progress by Little's
/// law plus its margin, and never fewer than are busy now plus what waits
/// (growing at most twofold per tick), so a burst is served before the
/// windowed rates have caught up with it.
pub(crate) fn pool_size(
    wip: f64,
    margin: f64,
    busy: usize,
    qsize: usize,
    live: usize,
    min: usize,
    max: usize,
) -> usize {
    let steady = (wip * (1.0 + margin)).ceil();
    let steady = if steady.is_finite() && steady > 0.0 {
        steady.min(max as f64) as usize
    } else {
        0
    };
    let now = busy + qsize.min(live.max(1));
    steady.max(now).clamp(min, max)
}

/// One consumer: takes events until it retires, the queue is shutting down
/// and empty, or the shutdown deadline passed.
async fn consume(inner: Arc<Inner>) {
    let mut leaving = Leave {
        pool: &inner.pool,
        counted: true,
    };
    let mut abort = inner.abort.subscribe();
    loop {
        if *abort.borrow() {
            break;
        }
        let woken = inner.pool.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if let Some(queued) = inner.pop() {
            inner.process(queued, &mut abort).await;
            continue;
        }
        if inner.is_closing() {
            break;
        }
        if inner.pool.retire_one() {
            leaving.counted = false;
            break;
        }
        woken.await;
    }
}

/// Counts a consumer out however it ends, so shutdown never waits for one
/// that is gone.
struct Leave<'a> {
    pool: &'a Pool,
    /// Still counted in `live` (a retirement has already uncounted itself).
    counted: bool,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.pool.live.fetch_sub(1, SeqCst);
        }
        self.pool.exited.notify_waiters();
    }
}

/// Samples the load every monitor interval and, with autoscaling, resizes.
pub(crate) async fn monitor(inner: Arc<Inner>) {
    let mut ticks = tokio::time::interval(inner.config.monitor_interval());
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let config = &inner.config;
    loop {
        ticks.tick().await;
        let (qsize, busy, live) = inner.levels();
        let metrics = {
            let mut stats = inner.stats.lock().unwrap_or_else(|p| p.into_inner());
            stats.sample_load(busy, live);
            stats.read(Instant::now(), qsize, busy, live)
        };
        // Once shutdown has emptied the queue, new consumers would only exit.
        if config.autoscale && !(inner.is_closing() && qsize == 0) {
            let target = pool_size(
                metrics.wip,
                config.wip_margin,
                busy,
                qsize,
                live,
                config.min_consumers,
                config.max_consumers,
            );
            resize(&inner, target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_follows_littles_law_within_bounds() {
        // 10 in progress + 15 %: 12 consumers.
        assert_eq!(pool_size(10.0, 0.15, 4, 0, 12, 1, 64), 12);
        assert_eq!(pool_size(100.0, 0.15, 4, 0, 12, 1, 64), 64);
        assert_eq!(pool_size(0.0, 0.15, 0, 0, 12, 2, 64), 2);
        assert_eq!(pool_size(f64::NAN, 0.15, 0, 0, 12, 1, 64), 1);
    }

    #[test]
    fn a_backlog_grows_the_pool_at_most_twofold_per_tick() {
        assert_eq!(pool_size(0.0, 0.15, 1, 500, 1, 1, 64), 2);
        assert_eq!(pool_size(0.0, 0.15, 8, 500, 8, 1, 64), 16);
        assert_eq!(pool_size(0.0, 0.15, 40, 500, 40, 1, 64), 64);
        // The target never falls below the consumers busy now.
        assert_eq!(pool_size(1.0, 0.15, 9, 0, 12, 1, 64), 9);
    }
}
