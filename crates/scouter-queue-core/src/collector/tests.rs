//! The queue end to end with collectors written in Rust.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::*;

/// Replies with the event id after `delay`; `None` never replies.
struct Echo {
    delay: Option<Duration>,
    seen: Arc<Mutex<Vec<u64>>>,
    held: Mutex<Vec<Reply>>,
}

impl Collector for Echo {
    fn handle(&self, event: Arc<Event>, reply: Reply) {
        self.seen.lock().unwrap().push(event.id);
        match self.delay {
            Some(delay) => {
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    reply.send(Ok(Value::Json(event.id.to_string())));
                });
            }
            None => self.held.lock().unwrap().push(reply),
        }
    }
}

fn echo(key: &str, topics: &[&str], delay: Option<Duration>, seen: &Arc<Mutex<Vec<u64>>>) -> Registration {
    Registration {
        key: key.into(),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        collector: Arc::new(Echo {
            delay,
            seen: seen.clone(),
            held: Mutex::new(Vec::new()),
        }),
    }
}

fn start(
    config: CollectorQueueConfig,
    collectors: Vec<Registration>,
) -> (CollectorQueue, mpsc::UnboundedReceiver<Completed>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queue = CollectorQueue::start(
        config,
        collectors,
        Arc::new(SimpleRouter),
        Arc::new(move |c| drop(tx.send(c))),
    )
    .unwrap();
    (queue, rx)
}

fn event(id: u64, route: Route, priority: Option<f64>) -> NewEvent {
    NewEvent {
        id,
        route,
        priority,
        body: None,
    }
}

fn keys(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Completed>) -> Completed {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap()
}

fn ok_collectors(c: &Completed) -> Vec<usize> {
    c.results
        .iter()
        .filter(|r| r.outcome.is_ok())
        .map(|r| r.collector)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_delivery_mode_reaches_its_collectors_with_one_result_each() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fast = Some(Duration::ZERO);
    let (queue, mut done) = start(
        CollectorQueueConfig::default(),
        vec![
            echo("a", &["pay"], fast, &seen),
            echo("b", &["pay", "audit"], fast, &seen),
            echo("c", &[], fast, &seen),
        ],
    );
    queue.publish(vec![event(1, Route::Broadcast, None)]).unwrap();
    assert_eq!(ok_collectors(&next(&mut done).await), vec![0, 1, 2]);
    queue
        .publish(vec![event(2, Route::Keys(keys(&["c", "a"])), None)])
        .unwrap();
    let completed = next(&mut done).await;
    assert_eq!(ok_collectors(&completed), vec![2, 0]);
    assert_eq!(completed.results[0].outcome.as_ref().unwrap(), &Value::Json("2".into()));
    queue
        .publish(vec![event(3, Route::Topics(keys(&["audit"])), None)])
        .unwrap();
    assert_eq!(ok_collectors(&next(&mut done).await), vec![1]);

    let unknown = queue.publish(vec![
        event(4, Route::Broadcast, None),
        event(5, Route::Keys(keys(&["zz"])), None),
    ]);
    assert_eq!(unknown.unwrap_err().code(), "ERR_UNKNOWN_COLLECTOR");
    let report = queue.shutdown(Duration::from_secs(1), true).await;
    assert_eq!(
        report,
        ShutdownReport {
            published: 3,
            processed: 3,
            timed_out: 0,
            not_processed: 0
        }
    );
    assert_eq!(
        queue
            .publish(vec![event(6, Route::Broadcast, None)])
            .unwrap_err()
            .code(),
        "ERR_QUEUE_CLOSED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_consumer_takes_events_by_priority() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let config = CollectorQueueConfig {
        queue_type: QueueType::Priority,
        autoscale: false,
        max_consumers: 1,
        ..Default::default()
    };
    let (queue, mut done) = start(config, vec![echo("a", &[], Some(Duration::from_millis(50)), &seen)]);
    // The first keeps the only consumer busy while the rest queue up.
    queue.publish(vec![event(0, Route::Broadcast, None)]).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    queue
        .publish(vec![
            event(1, Route::Broadcast, Some(5.0)),
            event(2, Route::Broadcast, None),
            event(3, Route::Broadcast, Some(-1.0)),
            event(4, Route::Broadcast, Some(5.0)),
        ])
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(next(&mut done).await.id);
    }
    assert_eq!(
        ids,
        vec![0, 3, 1, 4, 2],
        "lowest number first, default 100 last, ties in order"
    );
    queue.shutdown(Duration::from_secs(1), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_on_running_handlers_and_reports_the_queued() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let config = CollectorQueueConfig {
        autoscale: false,
        max_consumers: 2,
        ..Default::default()
    };
    let (queue, mut done) = start(
        config,
        vec![
            echo("never", &[], None, &seen),
            echo("quick", &[], Some(Duration::ZERO), &seen),
        ],
    );
    queue
        .publish((0..5).map(|id| event(id, Route::Broadcast, None)).collect())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = std::time::Instant::now();
    let report = queue.shutdown(Duration::from_millis(100), true).await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(
        report,
        ShutdownReport {
            published: 5,
            processed: 0,
            timed_out: 2,
            not_processed: 3
        }
    );

    let mut completed: Vec<Completed> = Vec::new();
    for _ in 0..5 {
        completed.push(next(&mut done).await);
    }
    let codes = |c: &Completed| {
        c.results
            .iter()
            .map(|r| r.outcome.as_ref().err().map(|e| e.code()))
            .collect::<Vec<_>>()
    };
    let timed_out = completed
        .iter()
        .filter(|c| codes(c) == vec![Some("ERR_SHUTDOWN_TIMEOUT"), None])
        .count();
    let not_processed = completed
        .iter()
        .filter(|c| codes(c) == vec![Some("ERR_NOT_PROCESSED"); 2])
        .count();
    assert_eq!((timed_out, not_processed), (2, 3));
    // A second shutdown returns the same report at once.
    assert_eq!(queue.shutdown(Duration::from_secs(5), true).await, report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_grows_the_pool_up_to_its_bound() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let config = CollectorQueueConfig {
        min_consumers: 1,
        max_consumers: 8,
        monitor_interval_ms: 5,
        ..Default::default()
    };
    let (queue, mut done) = start(config, vec![echo("slow", &[], Some(Duration::from_millis(20)), &seen)]);
    queue
        .publish((0..200).map(|id| event(id, Route::Broadcast, None)).collect())
        .unwrap();
    let mut most = 0;
    for _ in 0..200 {
        next(&mut done).await;
        most = most.max(queue.metrics().consumers);
    }
    assert_eq!(most, 8);
    queue.shutdown(Duration::from_secs(1), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_collector_writes_each_body_to_its_file_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let transport: crate::config::TransportConfig =
        serde_json::from_value(serde_json::json!({ "kind": "file", "dir": tmp.path() })).unwrap();
    let stream = Registration {
        key: "stream".into(),
        topics: vec![],
        collector: Arc::new(TransportCollector::start("stream", &transport).await.unwrap()),
    };
    let (queue, mut done) = start(CollectorQueueConfig::default(), vec![stream]);
    let with_body = |id: u64| NewEvent {
        id,
        route: Route::Broadcast,
        priority: None,
        body: Some(format!(r#"{{"id":{id}}}"#)),
    };
    queue
        .publish(
            (0..50)
                .map(with_body)
                .chain([event(50, Route::Broadcast, None)])
                .collect(),
        )
        .unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..51 {
        let completed = next(&mut done).await;
        outcomes.push((
            completed.id,
            completed.results[0].outcome.as_ref().map_err(|e| e.code()).cloned(),
        ));
    }
    outcomes.sort_by_key(|(id, _)| *id);
    assert!(outcomes[..50].iter().all(|(_, o)| *o == Ok(Value::Empty)));
    assert_eq!(
        outcomes[50].1,
        Err("ERR_INVALID_PAYLOAD"),
        "no JSON body: refused, not written"
    );

    queue.shutdown(Duration::from_secs(1), true).await;
    let batches = crate::filequeue::list_batches(&tmp.path().join("stream")).unwrap();
    let mut rows: Vec<String> = batches
        .iter()
        .flat_map(|b| crate::filequeue::read_rows(&b.path).unwrap())
        .collect();
    rows.sort_by_key(|r| serde_json::from_str::<serde_json::Value>(r).unwrap()["id"].as_u64());
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[7], r#"{"id":7}"#);
}
