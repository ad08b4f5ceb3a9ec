//! At most N requests to one host at once, whatever the global
//! concurrency: many feeds of one publisher must not arrive as a burst.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

#[derive(Clone)]
pub struct HostLimiter {
    per_host: usize,
    /// One semaphore per host name seen; hosts are few (one per configured
    /// publisher), so entries are never removed.
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl HostLimiter {
    pub fn new(per_host: usize) -> HostLimiter {
        HostLimiter {
            per_host: per_host.max(1),
            hosts: Arc::default(),
        }
    }

    /// Waits for a slot for `url`'s host; the slot is freed when the permit
    /// is dropped.
    pub async fn acquire(&self, url: &Url) -> Option<OwnedSemaphorePermit> {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let semaphore = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(
                hosts
                    .entry(host)
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
            )
        };
        // The semaphore is never closed, so this cannot fail; `None` would
        // only mean "no limit".
        semaphore.acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_per_host() {
        let limiter = HostLimiter::new(2);
        let a = Url::parse("http://a.example/1").unwrap();
        let b = Url::parse("http://B.example/2").unwrap();
        let _a1 = limiter.acquire(&a).await;
        let _a2 = limiter.acquire(&a).await;
        // A third slot for a.example must wait; b.example is free.
        let third =
            tokio::time::timeout(std::time::Duration::from_millis(50), limiter.acquire(&a)).await;
        assert!(third.is_err(), "a third request to one host waits");
        let other =
            tokio::time::timeout(std::time::Duration::from_millis(50), limiter.acquire(&b)).await;
        assert!(other.is_ok(), "another host is not held up");
        drop(_a1);
        let freed =
            tokio::time::timeout(std::time::Duration::from_millis(50), limiter.acquire(&a)).await;
        assert!(freed.is_ok(), "a finished request frees its slot");
    }
}
