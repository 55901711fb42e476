//! Scouter's HTTP transport: `GET {uri}/scouter/auth/login` with `Username`
//! and `Password` headers gives a token; records go by `POST
//! {uri}/scouter/message` with it as bearer token, and the server may hand a
//! fresh one back in the response's `Authorization` header.
//!
//! Better than Scouter's client, which checks no status: a 2xx acknowledges;
//! a 401 logs in again once; 429 and 5xx (and an unreachable server) are
//! retried with exponential backoff and jitter, then the messages go back to
//! the worker as undelivered, which spills them; any other 4xx fails them
//! with the server's message. Up to [`MAX_IN_FLIGHT`] requests run at once
//! over kept-alive connections, so the worker goes on aggregating meanwhile.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::{Id, JoinSet};

use super::{Delivery, Producer};
use crate::aggregate::Message;
use crate::config::HttpSettings;
use crate::error::{Error, Result};

/// Requests one alias keeps in flight.
const MAX_IN_FLIGHT: usize = 4;
/// Records merged into one POST from consecutive messages of the same kind.
const MAX_RECORDS_PER_POST: usize = 1000;
/// How often the worker collects finished requests while some are in flight.
const POLL_EVERY: Duration = Duration::from_millis(20);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A `Retry-After` longer than this is not waited for in full.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Longest server message kept in an error.
const MAX_MESSAGE: usize = 500;

/// The connection to one Scouter server, shared by every alias of a queue:
/// one pool of kept-alive connections and one token.
pub struct HttpClient {
    client: reqwest::Client,
    settings: HttpSettings,
    token: Mutex<Option<String>>,
}

/// How one request ended, after its retries.
#[derive(Debug, PartialEq)]
enum Outcome {
    Delivered,
    /// The server refused the records themselves: retrying cannot help.
    Rejected(String),
    /// Not delivered, for now: the records are kept (spilled).
    Undelivered(String),
}

enum LoginError {
    /// Credentials refused (4xx): no retry helps.
    Refused(String),
    /// Unreachable, or a 429/5xx: worth retrying.
    Transient(String, Option<Duration>),
}

impl HttpClient {
    /// Builds the client and logs in, unless a token was given. A server that
    /// refuses the credentials is an error now; one that cannot be reached is
    /// not: records spill until it can.
    pub async fn connect(settings: HttpSettings) -> Result<Arc<HttpClient>> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| Error::Transport(format!("cannot build the HTTP client: {e}")))?;
        let token = Mutex::new(settings.auth_token.clone());
        let http = Arc::new(HttpClient { client, settings, token });
        if http.current_token().is_none() {
            match http.login().await {
                Ok(token) => http.set_token(token),
                Err(LoginError::Refused(reason)) => return Err(Error::Transport(reason)),
                Err(LoginError::Transient(..)) => {}
            }
        }
        Ok(http)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/scouter/{path}", self.settings.server_uri)
    }

    fn current_token(&self) -> Option<String> {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_token(&self, token: String) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some(token);
    }

    /// Forgets `stale`, unless another request has already replaced it.
    fn forget_token(&self, stale: &str) {
        let mut token = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if token.as_deref() == Some(stale) {
            *token = None;
        }
    }

    /// Keeps the token a response hands back: the server renews expired ones.
    fn keep_renewed_token(&self, headers: &HeaderMap) {
        let renewed = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if let Some(token) = renewed.map(str::trim).filter(|t| !t.is_empty()) {
            self.set_token(token.to_owned());
        }
    }

    async fn login(&self) -> Result<String, LoginError> {
        let response = self
            .client
            .get(self.url("auth/login"))
            .header("Username", &self.settings.username)
            .header("Password", &self.settings.password)
            .send()
            .await
            .map_err(|e| LoginError::Transient(unreachable(&self.settings.server_uri, &e), None))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            let token = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned));
            return token.ok_or_else(|| LoginError::Refused(format!("login answered {status} without a token: {}", clip(&body))));
        }
        let reason = format!("login refused with {status}: {}", clip(&body));
        if retryable(status) {
            Err(LoginError::Transient(reason, retry_after))
        } else {
            Err(LoginError::Refused(reason))
        }
    }

    /// Sends one body until it is delivered, rejected or out of retries.
    async fn send(&self, body: String) -> Outcome {
        let mut attempt = 0;
        let mut logged_in_again = false;
        loop {
            let wait = match self.try_send(&body, &mut logged_in_again).await {
                Attempt::Done(outcome) => return outcome,
                Attempt::Again => continue,
                Attempt::Retry(reason, _) if attempt >= self.settings.max_retries => {
                    return Outcome::Undelivered(format!("{reason} (after {} attempts)", attempt + 1))
                }
                Attempt::Retry(_, retry_after) => backoff(attempt, retry_after),
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn try_send(&self, body: &str, logged_in_again: &mut bool) -> Attempt {
        let token = match self.current_token() {
            Some(token) => token,
            None => match self.login().await {
                Ok(token) => {
                    self.set_token(token.clone());
                    token
                }
                Err(LoginError::Refused(reason)) => return Attempt::Done(Outcome::Undelivered(reason)),
                Err(LoginError::Transient(reason, wait)) => return Attempt::Retry(reason, wait),
            },
        };
        let response = self
            .client
            .post(self.url("message"))
            .bearer_auth(&token)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(e) => return Attempt::Retry(unreachable(&self.settings.server_uri, &e), None),
        };
        self.keep_renewed_token(response.headers());
        let status = response.status();
        let wait = retry_after(response.headers());
        // Reading the body to its end lets the connection be kept alive.
        let text = response.text().await.unwrap_or_default();
        match status {
            s if s.is_success() => Attempt::Done(Outcome::Delivered),
            StatusCode::UNAUTHORIZED if !*logged_in_again => {
                *logged_in_again = true;
                self.forget_token(&token);
                Attempt::Again
            }
            StatusCode::UNAUTHORIZED => Attempt::Done(Outcome::Undelivered(format!(
                "the server refused the token even after a new login: {}",
                clip(&text)
            ))),
            s if retryable(s) => Attempt::Retry(format!("the server answered {s}: {}", clip(&text)), wait),
            s => Attempt::Done(Outcome::Rejected(format!("the server rejected the records with {s}: {}", clip(&text)))),
        }
    }
}

enum Attempt {
    Done(Outcome),
    /// At once, not counted as a retry (a new login after a 401).
    Again,
    /// After a backoff, at least the server's `Retry-After` if it gave one.
    Retry(String, Option<Duration>),
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// Exponential (100 ms, 200 ms, ... up to 5 s) with jitter: half of it
/// fixed, half random, so many clients do not retry in step.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let full = FIRST_BACKOFF.saturating_mul(1 << attempt.min(16)).min(MAX_BACKOFF);
    let jittered = full / 2 + full.mul_f64(random_fraction() / 2.0);
    jittered.max(retry_after.unwrap_or_default())
}

/// A number in [0, 1): std seeds each `RandomState` randomly, which is
/// enough for jitter without a dependency.
fn random_fraction() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn unreachable(uri: &str, error: &reqwest::Error) -> String {
    let mut reason = format!("cannot reach {uri}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    reason
}

fn clip(text: &str) -> &str {
    match text.char_indices().nth(MAX_MESSAGE) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Request bodies for `messages`: consecutive `ServerRecords` of one kind
/// merged (up to [`MAX_RECORDS_PER_POST`] records), every object's keys in
/// alphabetical order as Scouter's client sends them. A payload that is not
/// `ServerRecords` (a raw record) goes alone, also sorted.
fn bodies(messages: Vec<Message>) -> Vec<(Result<String, String>, Vec<Message>)> {
    let mut out = Vec::new();
    let mut open: Option<(String, Vec<Value>, Vec<Message>)> = None;
    let close = |open: &mut Option<(String, Vec<Value>, Vec<Message>)>, out: &mut Vec<_>| {
        if let Some((_, records, messages)) = open.take() {
            let body = serde_json::json!({ "records": records }).to_string();
            out.push((Ok(body), messages));
        }
    };
    for message in messages {
        let value: Value = match serde_json::from_str(&message.payload) {
            Ok(value) => value,
            Err(e) => {
                close(&mut open, &mut out);
                out.push((Err(format!("a message is not JSON: {e}")), vec![message]));
                continue;
            }
        };
        let Some((kind, records)) = server_records(value.clone()) else {
            close(&mut open, &mut out);
            out.push((Ok(value.to_string()), vec![message]));
            continue;
        };
        let fits = open
            .as_ref()
            .is_some_and(|(k, r, _)| *k == kind && r.len() + records.len() <= MAX_RECORDS_PER_POST);
        if !fits {
            close(&mut open, &mut out);
        }
        let (_, all, messages) = open.get_or_insert_with(|| (kind, Vec::new(), Vec::new()));
        all.extend(records);
        messages.push(message);
    }
    close(&mut open, &mut out);
    out
}

/// The kind (`Psi`, `Spc`, `Custom`) and records of a `ServerRecords` value.
fn server_records(value: Value) -> Option<(String, Vec<Value>)> {
    let Value::Object(mut top) = value else { return None };
    let Some(Value::Array(records)) = top.remove("records") else { return None };
    let kind = records.first()?.as_object()?.keys().next()?.clone();
    Some((kind, records))
}

/// One alias's producer: its requests in flight, and the messages of each.
pub struct HttpProducer {
    client: Arc<HttpClient>,
    in_flight: JoinSet<Outcome>,
    messages: HashMap<Id, Vec<Message>>,
    /// The queue's shutdown deadline: waiting for a free request slot must
    /// not outlast it (a request to an unresponsive server can take minutes).
    deadline: watch::Receiver<Option<Instant>>,
}

impl HttpProducer {
    pub fn new(client: Arc<HttpClient>, deadline: watch::Receiver<Option<Instant>>) -> Self {
        HttpProducer { client, in_flight: JoinSet::new(), messages: HashMap::new(), deadline }
    }

    /// Waits until a request finishes, or the shutdown deadline passes: then
    /// every request still in flight is abandoned (its messages come back
    /// undelivered) and this returns false.
    async fn finish_one(&mut self, delivery: &mut Delivery) -> bool {
        let mut watching = true;
        loop {
            let deadline = *self.deadline.borrow_and_update();
            let passed = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let changed = async {
                match watching {
                    true => self.deadline.changed().await.is_ok(),
                    false => std::future::pending().await,
                }
            };
            let finished = tokio::select! {
                finished = self.in_flight.join_next_with_id() => Some(finished),
                _ = passed => None,
                still_watched = changed => {
                    watching = still_watched;
                    continue;
                }
            };
            match finished {
                Some(Some(finished)) => self.settle(finished, delivery),
                Some(None) => {}
                None => {
                    self.abandon(delivery).await;
                    return false;
                }
            }
            return true;
        }
    }

    async fn abandon(&mut self, delivery: &mut Delivery) {
        self.in_flight.abort_all();
        while let Some(finished) = self.in_flight.join_next_with_id().await {
            self.settle(finished, delivery);
        }
    }

    fn settle(&mut self, finished: Result<(Id, Outcome), tokio::task::JoinError>, delivery: &mut Delivery) {
        let (id, outcome) = match finished {
            Ok(done) => done,
            // Abandoned at the shutdown deadline: kept, as everything unsent then is, without an error.
            Err(e) if e.is_cancelled() => {
                delivery.undelivered.extend(self.messages.remove(&e.id()).unwrap_or_default());
                return;
            }
            Err(e) => (e.id(), Outcome::Undelivered(format!("the request failed: {e}"))),
        };
        let messages = self.messages.remove(&id).unwrap_or_default();
        let items: u64 = messages.iter().map(|m| m.items).sum();
        match outcome {
            Outcome::Delivered => delivery.published += items,
            Outcome::Rejected(reason) => {
                delivery.failed += items;
                delivery.rejected += messages.len() as u64;
                delivery.error.get_or_insert(Error::Transport(reason));
            }
            Outcome::Undelivered(reason) => {
                delivery.undelivered.extend(messages);
                delivery.error.get_or_insert(Error::Transport(format!("{reason}; the records were written to the spill file queue")));
            }
        }
    }

    fn collect_finished(&mut self, delivery: &mut Delivery) {
        while let Some(finished) = self.in_flight.try_join_next_with_id() {
            self.settle(finished, delivery);
        }
    }
}

impl Producer for HttpProducer {
    async fn publish(&mut self, messages: Vec<Message>) -> Delivery {
        let mut delivery = Delivery::default();
        let mut past_deadline = false;
        for (body, messages) in bodies(messages) {
            if past_deadline {
                delivery.undelivered.extend(messages);
                continue;
            }
            let body = match body {
                Ok(body) => body,
                Err(reason) => {
                    delivery.failed += messages.iter().map(|m| m.items).sum::<u64>();
                    delivery.rejected += messages.len() as u64;
                    delivery.error.get_or_insert(Error::Transport(reason));
                    continue;
                }
            };
            while self.in_flight.len() >= MAX_IN_FLIGHT && !past_deadline {
                past_deadline = !self.finish_one(&mut delivery).await;
            }
            if past_deadline {
                delivery.undelivered.extend(messages);
                continue;
            }
            let client = self.client.clone();
            let handle = self.in_flight.spawn(async move { client.send(body).await });
            self.messages.insert(handle.id(), messages);
        }
        self.collect_finished(&mut delivery);
        delivery
    }

    fn next_due(&self) -> Option<Instant> {
        (!self.in_flight.is_empty()).then(|| Instant::now() + POLL_EVERY)
    }

    async fn tick(&mut self, _now: Instant) -> Delivery {
        let mut delivery = Delivery::default();
        self.collect_finished(&mut delivery);
        delivery
    }

    /// Waits for the requests in flight until `deadline`, then abandons the
    /// rest: their messages come back undelivered, to be spilled.
    async fn flush(&mut self, deadline: Instant) -> Delivery {
        let mut delivery = Delivery::default();
        while !self.in_flight.is_empty() {
            match tokio::time::timeout_at(deadline.into(), self.in_flight.join_next_with_id()).await {
                Ok(Some(finished)) => self.settle(finished, &mut delivery),
                Ok(None) => break,
                Err(_) => self.abandon(&mut delivery).await,
            }
        }
        delivery
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &str, items: u64) -> Message {
        Message { payload: payload.to_owned(), items }
    }

    fn psi(bin_id: i32) -> String {
        format!(r#"{{"records":[{{"Psi":{{"created_at":"t","uid":"u","feature":"age","bin_id":{bin_id},"bin_count":1,"entity_id":0}}}}]}}"#)
    }

    #[test]
    fn consecutive_messages_of_a_kind_share_a_post_with_sorted_keys() {
        let spc = r#"{"records":[{"Spc":{"created_at":"t","uid":"u","feature":"age","value":1.0,"entity_id":0}}]}"#;
        let raw = r#"{"created_at":"t","space":"s"}"#;
        let out = bodies(vec![message(&psi(1), 10), message(&psi(2), 5), message(spc, 4), message(raw, 1), message("nope", 2)]);
        let summary: Vec<(Result<String, String>, u64)> =
            out.into_iter().map(|(body, m)| (body, m.iter().map(|m| m.items).sum())).collect();
        assert_eq!(summary[0].0.as_deref().unwrap(), r#"{"records":[{"Psi":{"bin_count":1,"bin_id":1,"created_at":"t","entity_id":0,"feature":"age","uid":"u"}},{"Psi":{"bin_count":1,"bin_id":2,"created_at":"t","entity_id":0,"feature":"age","uid":"u"}}]}"#);
        assert_eq!(summary[0].1, 15);
        assert_eq!(summary[1].0.as_deref().unwrap(), r#"{"records":[{"Spc":{"created_at":"t","entity_id":0,"feature":"age","uid":"u","value":1.0}}]}"#);
        assert_eq!(summary[2], (Ok(r#"{"created_at":"t","space":"s"}"#.to_owned()), 1));
        assert!(summary[3].0.as_ref().unwrap_err().contains("not JSON"));
        assert_eq!(summary.len(), 4);
    }

    #[test]
    fn a_post_holds_at_most_a_thousand_records() {
        let many = format!(r#"{{"records":[{}]}}"#, vec![r#"{"Psi":{"bin_id":1}}"#; 600].join(","));
        let out = bodies(vec![message(&many, 1), message(&many, 1), message(&psi(1), 1)]);
        assert_eq!(out.iter().map(|(_, m)| m.len()).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_respects_retry_after() {
        for attempt in 0..8 {
            let full = FIRST_BACKOFF * (1 << attempt);
            let full = full.min(MAX_BACKOFF);
            let wait = backoff(attempt, None);
            assert!(wait >= full / 2 && wait <= full, "attempt {attempt}: {wait:?}");
        }
        assert_eq!(backoff(0, Some(Duration::from_secs(2))), Duration::from_secs(2));
    }
}
