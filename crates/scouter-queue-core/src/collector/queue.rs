//! The event queue the consumers compete for: FIFO, LIFO, or a priority
//! min-heap (the lowest number first, ties in arrival order).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use serde::Deserialize;

/// The order in which queued events are taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum QueueType {
    #[default]
    Fifo,
    Lifo,
    Priority,
}

/// Events waiting for a consumer.
#[derive(Debug)]
pub(crate) enum EventQueue<T> {
    Fifo(VecDeque<T>),
    Lifo(Vec<T>),
    Priority { heap: BinaryHeap<Ranked<T>>, next_seq: u64 },
}

impl<T> EventQueue<T> {
    pub fn new(kind: QueueType) -> Self {
        match kind {
            QueueType::Fifo => EventQueue::Fifo(VecDeque::new()),
            QueueType::Lifo => EventQueue::Lifo(Vec::new()),
            QueueType::Priority => EventQueue::Priority {
                heap: BinaryHeap::new(),
                next_seq: 0,
            },
        }
    }

    /// Queues `item`; `priority` only matters to a priority queue.
    pub fn push(&mut self, item: T, priority: f64) {
        match self {
            EventQueue::Fifo(q) => q.push_back(item),
            EventQueue::Lifo(q) => q.push(item),
            EventQueue::Priority { heap, next_seq } => {
                heap.push(Ranked {
                    priority,
                    seq: *next_seq,
                    item,
                });
                *next_seq += 1;
            }
        }
    }

    pub fn pop(&mut self) -> Option<T> {
        match self {
            EventQueue::Fifo(q) => q.pop_front(),
            EventQueue::Lifo(q) => q.pop(),
            EventQueue::Priority { heap, .. } => heap.pop().map(|r| r.item),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            EventQueue::Fifo(q) => q.len(),
            EventQueue::Lifo(q) => q.len(),
            EventQueue::Priority { heap, .. } => heap.len(),
        }
    }

    /// Empties the queue (at shutdown), oldest-queued order not guaranteed.
    pub fn take_all(&mut self) -> Vec<T> {
        let mut all = Vec::with_capacity(self.len());
        while let Some(item) = self.pop() {
            all.push(item);
        }
        all
    }
}

/// A heap entry. `BinaryHeap` is a max-heap, so the order is reversed:
/// the lowest priority number, then the lowest sequence, is the greatest.
#[derive(Debug)]
pub(crate) struct Ranked<T> {
    priority: f64,
    seq: u64,
    item: T,
}

impl<T> Ord for Ranked<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.priority.total_cmp(&self.priority).then(other.seq.cmp(&self.seq))
    }
}

impl<T> PartialOrd for Ranked<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> PartialEq for Ranked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T> Eq for Ranked<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(kind: QueueType, items: &[(u32, f64)]) -> Vec<u32> {
        let mut q = EventQueue::new(kind);
        for &(item, priority) in items {
            q.push(item, priority);
        }
        std::iter::from_fn(|| q.pop()).collect()
    }

    #[test]
    fn fifo_lifo_and_priority_orders() {
        let items = [(1, 5.0), (2, 1.0), (3, 5.0), (4, -2.0), (5, 1.0)];
        assert_eq!(drain(QueueType::Fifo, &items), vec![1, 2, 3, 4, 5]);
        assert_eq!(drain(QueueType::Lifo, &items), vec![5, 4, 3, 2, 1]);
        // Lowest number first; equal priorities keep their arrival order.
        assert_eq!(drain(QueueType::Priority, &items), vec![4, 2, 5, 1, 3]);
    }
}
