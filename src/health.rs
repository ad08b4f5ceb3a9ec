//! Liveness facts shared across the daemon: the scheduler reports a
//! heartbeat on every turn of its loop; `/readyz` and the systemd watchdog
//! read it, so a stuck scheduler stops the pings and systemd restarts us.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The scheduler wakes at least this often, even with nothing due.
pub const SCHEDULER_TICK: Duration = Duration::from_secs(10);

/// A heartbeat older than this means the scheduler is stuck or gone.
pub const SCHEDULER_STALL: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Health {
    /// Unix milliseconds of the scheduler's last heartbeat; 0 before its
    /// first, and after it stops.
    scheduler_beat: AtomicI64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            scheduler_beat: AtomicI64::new(0),
        }
    }
}

impl Health {
    pub fn beat(&self) {
        self.scheduler_beat
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Release);
    }

    /// Called when the scheduler exits.
    pub fn scheduler_stopped(&self) {
        self.scheduler_beat.store(0, Ordering::Release);
    }

    pub fn scheduler_alive(&self) -> bool {
        let beat = self.scheduler_beat.load(Ordering::Acquire);
        beat != 0
            && chrono::Utc::now().timestamp_millis() - beat < SCHEDULER_STALL.as_millis() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive_only_between_beats_and_stop() {
        let h = Health::default();
        assert!(!h.scheduler_alive(), "not before the first beat");
        h.beat();
        assert!(h.scheduler_alive());
        h.scheduler_stopped();
        assert!(!h.scheduler_alive());
    }
}
