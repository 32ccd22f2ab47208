//! Sending one event to one endpoint, signed as the Standard Webhooks specification says,
//! and what the answer means for the next attempt.

use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};

use super::store::Endpoint;
use super::url_guard::{GuardedResolver, UrlPolicy, UrlRefused};
use crate::webhook_signing::{Secret, signature};

/// The most of an endpoint's answer that is read: the status is what counts.
const MAX_RESPONSE_BYTES: usize = 4096;
/// The longest `Retry-After` honoured; a later one waits the schedule's delay instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// The delays between attempts: the first retry waits the first delay, and so on; after the
/// last, the delivery has failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(pub Vec<Duration>);

impl Default for Schedule {
    /// About three days of retries.
    fn default() -> Self {
        "5s,5m,30m,2h,5h,10h,10h,10h,10h,10h,10h"
            .parse()
            .unwrap_or(Self(vec![Duration::from_secs(60)]))
    }
}

impl std::str::FromStr for Schedule {
    type Err = String;

    /// Comma-separated delays such as `5s,5m,30m,2h,1d` (or `500ms`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let delays = text
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(parse_delay)
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err("give at least one delay, such as 5s,5m,30m".into());
        }
        Ok(Self(delays))
    }
}

fn parse_delay(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (ms, s, m, h or d)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?}: the unit must be ms, s, m, h or d")),
    };
    Ok(Duration::from_millis(number.saturating_mul(unit_ms)))
}

impl Schedule {
    /// The wait before the attempt after `attempts` failed ones, with up to 10% jitter so
    /// that endpoints coming back are not hit by every retry at once; `None` when the
    /// schedule is spent.
    pub fn delay_after(&self, attempts: i64) -> Option<Duration> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        let delay = *self.0.get(index)?;
        let jitter_ms = u64::try_from(delay.as_millis() / 10).unwrap_or(0);
        let jitter = Duration::from_millis(rand::rng().random_range(0..=jitter_ms));
        Some(delay + jitter)
    }
}

/// What an endpoint made of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Option<u16>,
    pub latency: Duration,
    pub error: Option<String>,
    /// The wait the endpoint asked for (`429`/`503` with `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// `410 Gone`: the endpoint asks never to be sent anything again.
    pub fn gone(&self) -> bool {
        self.status == Some(410)
    }
}

/// The HTTP client deliveries go out with: no redirects, a timeout per attempt, and names
/// resolved only to addresses the policy allows.
pub struct Sender {
    client: reqwest::Client,
    policy: UrlPolicy,
}

impl Sender {
    pub fn new(policy: UrlPolicy, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .dns_resolver(std::sync::Arc::new(GuardedResolver(policy)))
            .user_agent(concat!(
                "billing-system-webhooks/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Self { client, policy })
    }

    /// Sends `body` (the event `event_id`'s JSON) to `endpoint`, signed with its secret and,
    /// within a rotation, the previous one.
    pub async fn send(&self, endpoint: &Endpoint, event_id: &str, body: &str) -> Outcome {
        let started = Instant::now();
        let failed = |error: String| Outcome {
            status: None,
            latency: started.elapsed(),
            error: Some(error),
            retry_after: None,
        };
        let Ok(url) = reqwest::Url::parse(&endpoint.url) else {
            return failed("the endpoint URL is not valid".into());
        };
        // A name is checked by the resolver as it connects; an address never reaches it.
        if url
            .host()
            .is_some_and(|h| !matches!(h, url::Host::Domain(_)))
            && self.policy.resolve(&url).await.is_err()
        {
            return failed("the endpoint URL points to a private address".into());
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signed = match secrets_of(endpoint) {
            Ok(secrets) => {
                let refs: Vec<&Secret> = secrets.iter().collect();
                signature(&refs, event_id, timestamp, body.as_bytes())
            }
            Err(error) => Err(error),
        };
        let Ok(signed) = signed else {
            return failed("the endpoint's secret cannot sign".into());
        };
        let request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("webhook-id", event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(body.to_owned());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => return failed(describe(&error)),
        };
        let status = response.status().as_u16();
        let retry_after = matches!(status, 429 | 503)
            .then(|| response.headers().get(RETRY_AFTER))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .filter(|wait| *wait <= MAX_RETRY_AFTER);
        let mut read = 0;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        Outcome {
            status: Some(status),
            latency: started.elapsed(),
            error: (!(200..300).contains(&status)).then(|| format!("answered {status}")),
            retry_after,
        }
    }
}

/// The endpoint's secrets that sign now: its own, and the one a rotation replaced until that
/// one expires.
fn secrets_of(endpoint: &Endpoint) -> Result<Vec<Secret>, crate::webhook_signing::SigningError> {
    let mut secrets = vec![Secret::parse(&endpoint.secret)?];
    let now = chrono::Utc::now();
    if let (Some(previous), Some(expires)) = (
        &endpoint.previous_secret,
        endpoint.previous_secret_expires_at,
    ) {
        if expires > now {
            secrets.push(Secret::parse(previous)?);
        }
    }
    Ok(secrets)
}

/// A failed request in a line, without the URL (which may hold a token of the receiver's).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if refused_by_policy(error) {
        "refused: the endpoint resolves to a private address".into()
    } else if error.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

/// Whether the guarding resolver refused the endpoint's address: its error is somewhere in
/// the chain of causes.
fn refused_by_policy(error: &reqwest::Error) -> bool {
    let mut cause = std::error::Error::source(error);
    while let Some(error) = cause {
        if error.downcast_ref::<UrlRefused>().is_some() {
            return true;
        }
        cause = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_that_resolves_inside_is_refused_as_it_connects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let endpoint = Endpoint::new(
            format!("http://localhost:{port}/hook"),
            vec!["*".into()],
            None,
        );
        let strict = Sender::new(UrlPolicy::default(), Duration::from_secs(2)).unwrap();
        let outcome = strict.send(&endpoint, "evt", "{}").await;
        assert_eq!(outcome.status, None);
        assert_eq!(
            outcome.error.as_deref(),
            Some("refused: the endpoint resolves to a private address")
        );
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "the refused delivery must not connect");

        let laptop = UrlPolicy {
            allow_loopback: true,
        };
        let allowed = Sender::new(laptop, Duration::from_secs(2)).unwrap();
        let sent = tokio::spawn(async move { allowed.send(&endpoint, "evt", "{}").await });
        assert!(
            listener.accept().await.is_ok(),
            "an allowed delivery connects"
        );
        sent.abort();
    }

    #[test]
    fn schedules_parse_with_units_and_refuse_nonsense() {
        let schedule: Schedule = "1s,2s,5s".parse().unwrap();
        assert_eq!(
            schedule.0,
            vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(5)
            ]
        );
        assert_eq!(
            "500ms, 5m,2h,1d".parse::<Schedule>().unwrap().0,
            vec![
                Duration::from_millis(500),
                Duration::from_secs(300),
                Duration::from_secs(7200),
                Duration::from_secs(86_400)
            ]
        );
        assert!("".parse::<Schedule>().is_err());
        assert!("5".parse::<Schedule>().is_err());
        assert!("5y".parse::<Schedule>().is_err());
        let total: Duration = Schedule::default().0.iter().sum();
        assert!(total > Duration::from_secs(2 * 86_400) && total < Duration::from_secs(4 * 86_400));
    }

    #[test]
    fn delays_follow_the_schedule_with_bounded_jitter_and_end() {
        let schedule: Schedule = "1s,10s".parse().unwrap();
        assert_eq!(schedule.delay_after(0), None);
        let first = schedule.delay_after(1).unwrap();
        assert!(first >= Duration::from_secs(1) && first <= Duration::from_millis(1100));
        let second = schedule.delay_after(2).unwrap();
        assert!(second >= Duration::from_secs(10) && second <= Duration::from_secs(11));
        assert_eq!(schedule.delay_after(3), None);
    }
}
