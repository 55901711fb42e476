//! Means per name over one sample: Spc features and Custom metrics.

use std::collections::HashMap;

use chrono::Utc;

use super::Message;
use crate::record::timestamp;
use crate::wire::{ServerRecord, ServerRecords};

/// Builds the record of one mean: Spc's per feature, Custom's per metric.
pub(super) type MeanRecord = for<'a> fn(&'a str, &'a str, &'a str, f64) -> ServerRecord<'a>;

pub(super) struct Means {
    names: Vec<String>,
    index: HashMap<String, usize>,
    sums: Vec<f64>,
    /// A running mean beside the sum: the sum of finite values can overflow,
    /// the running mean cannot, and a record must never carry infinity.
    running: Vec<f64>,
    counts: Vec<u64>,
}

impl Means {
    /// One mean per distinct name, kept in sorted order.
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        let mut names: Vec<String> = names.into_iter().collect();
        names.sort();
        names.dedup();
        let index = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let n = names.len();
        Means { names, index, sums: vec![0.0; n], running: vec![0.0; n], counts: vec![0; n] }
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Adds a finite value.
    pub fn add(&mut self, i: usize, value: f64) {
        self.counts[i] += 1;
        self.sums[i] += value;
        let n = self.counts[i] as f64;
        let m = self.running[i];
        // `value - m` overflows only for values near f64::MAX of opposite signs.
        let step = (value - m) / n;
        self.running[i] = if step.is_finite() { m + step } else { m - m / n + value / n };
    }

    /// One message with a record per name that has values, made by `record`
    /// from (created_at, uid, name, mean), accounting for `items`; then a
    /// fresh sample. Nothing when no item was added.
    pub fn publish(&mut self, items: u64, uid: &str, record: MeanRecord) -> Option<Message> {
        if items == 0 {
            return None;
        }
        let created_at = timestamp(Utc::now());
        let means = self.take();
        let records = means.into_iter().map(|(i, mean)| record(&created_at, uid, &self.names[i], mean)).collect();
        Some(Message { payload: ServerRecords { records }.to_json(), items })
    }

    /// `(index, mean)` of every name that has values, and a fresh sample.
    /// The mean is the sum over the count, as Scouter computes it, unless the
    /// sum overflowed.
    pub fn take(&mut self) -> Vec<(usize, f64)> {
        let means = (0..self.names.len())
            .filter(|&i| self.counts[i] > 0)
            .map(|i| {
                let mean = self.sums[i] / self.counts[i] as f64;
                (i, if mean.is_finite() { mean } else { self.running[i] })
            })
            .collect();
        self.sums.fill(0.0);
        self.running.fill(0.0);
        self.counts.fill(0);
        means
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_of_names_with_values_only() {
        let mut means = Means::new(["b".to_owned(), "a".to_owned(), "b".to_owned()]);
        assert_eq!(means.names(), ["a", "b"]);
        means.add(1, 1.0);
        means.add(1, 2.0);
        assert_eq!(means.take(), vec![(1, 1.5)]);
        assert_eq!(means.take(), vec![]);
    }

    #[test]
    fn a_sum_that_overflows_still_gives_a_finite_mean() {
        let mut means = Means::new(["a".to_owned()]);
        means.add(0, f64::MAX);
        means.add(0, f64::MAX);
        means.add(0, -f64::MAX);
        let [(0, mean)] = means.take()[..] else { panic!() };
        assert!(mean.is_finite() && mean > 0.0, "{mean}");
    }
}
