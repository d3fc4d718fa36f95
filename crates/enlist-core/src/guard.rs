//! The deprovisioning guard's language: per organization, at most so many
//! active members may be deactivated or deleted by SCIM within a rolling
//! window; beyond it, further removals are held (refused, retryable) until
//! an Admin or the operator approves them or dismisses the hold. Pure
//! values and arithmetic; the use cases are in `service::guard`.

use crate::types::{OrganizationId, UserId};
use chrono::{DateTime, Duration, Utc};

/// The shortest window the guard counts in.
pub const MIN_WINDOW_SECS: u32 = 60;
/// The longest window (a week): removals are kept this long for counting.
pub const MAX_WINDOW_SECS: u32 = 7 * 24 * 3600;
/// The `Retry-After` of a held removal, in seconds. Okta retries a 429 by
/// itself only when it carries one; Entra ID ignores it and retries the
/// person on a later cycle.
pub const HELD_RETRY_AFTER_SECS: u32 = 600;

/// An organization's guard settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardSettings {
    /// Off: removals are counted but never held.
    pub enabled: bool,
    /// Removals always allowed in a window (the floor of the limit).
    pub max: u32,
    /// Or this share of the members active at the window's start, when
    /// that is more (0–100).
    pub percent: u8,
    /// The rolling window, in seconds.
    pub window_secs: u32,
}

impl Default for GuardSettings {
    /// The larger of 10 and 10 % of active members, per hour.
    fn default() -> Self {
        Self { enabled: true, max: 10, percent: 10, window_secs: 3600 }
    }
}

impl GuardSettings {
    /// Checks operator or Admin input.
    ///
    /// # Errors
    /// `InvalidValue` naming the setting and what is allowed.
    pub fn checked(self) -> crate::Result<Self> {
        if self.percent > 100 {
            return Err(crate::Error::invalid(format!(
                "a guard percentage of {} is not a share of members; use 0 to 100",
                self.percent
            )));
        }
        if !(MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&self.window_secs) {
            return Err(crate::Error::invalid(format!(
                "a guard window of {} s is out of range; use 1 minute to 7 days (for example 1h)",
                self.window_secs
            )));
        }
        Ok(self)
    }

    /// How many removals a window allows, given how many members were
    /// active at its start (those active now plus those removed in it).
    pub fn limit(&self, active_at_start: u64) -> u64 {
        let share = (active_at_start * u64::from(self.percent)).div_ceil(100);
        share.max(u64::from(self.max))
    }

    /// The window as a duration.
    pub fn window(&self) -> Duration {
        Duration::seconds(i64::from(self.window_secs))
    }

    /// The window in words, for messages ("1 hour", "30 minutes").
    pub fn window_words(&self) -> String {
        let s = self.window_secs;
        let (n, unit) = if s % 86_400 == 0 {
            (s / 86_400, "day")
        } else if s % 3600 == 0 {
            (s / 3600, "hour")
        } else if s % 60 == 0 {
            (s / 60, "minute")
        } else {
            (s, "second")
        };
        format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

/// An organization's guard: settings and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuardState {
    /// The settings.
    pub settings: GuardSettings,
    /// Since when removals are held (the guard tripped), if they are.
    pub held_since: Option<DateTime<Utc>>,
    /// Until when an approval lets every removal through.
    pub approved_until: Option<DateTime<Utc>>,
    /// Removals before this time no longer count (a dismissed hold starts
    /// counting afresh).
    pub counted_since: Option<DateTime<Utc>>,
}

impl GuardState {
    /// Where the guard stands at `now`.
    pub fn phase(&self, now: DateTime<Utc>) -> GuardPhase {
        if !self.settings.enabled {
            GuardPhase::Off
        } else if self.held_since.is_some() {
            GuardPhase::Held
        } else if self.approved_until.is_some_and(|t| t > now) {
            GuardPhase::Approved
        } else {
            GuardPhase::Counting
        }
    }

    /// The start of the counting window at `now`.
    pub fn counting_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let start = now - self.settings.window();
        self.counted_since.map_or(start, |c| c.max(start))
    }
}

/// Where a guard stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardPhase {
    /// Switched off by the operator.
    Off,
    /// Counting removals; under the limit.
    Counting,
    /// Tripped: removals are refused until approved or dismissed.
    Held,
    /// Approved: removals pass until the approval's end.
    Approved,
}

impl GuardPhase {
    /// The name shown to people and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Counting => "counting",
            Self::Held => "held",
            Self::Approved => "approved",
        }
    }
}

/// What a held request would have done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// `active` set to false.
    Deactivate,
    /// The membership deleted.
    Delete,
}

impl Removal {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deactivate => "deactivate",
            Self::Delete => "delete",
        }
    }
    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "deactivate" => Some(Self::Deactivate),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// A removal the guard refused, one per person (repeats are counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRemoval {
    /// Whose organization.
    pub organization_id: OrganizationId,
    /// The member.
    pub user_id: UserId,
    /// Their userName, for people reading the list.
    pub user_name: String,
    /// Their email.
    pub email: String,
    /// What was asked.
    pub removal: Removal,
    /// The label of the key that asked.
    pub key_label: String,
    /// First refused.
    pub first_at: DateTime<Utc>,
    /// Last refused.
    pub last_at: DateTime<Utc>,
    /// How many times the identity provider asked.
    pub attempts: u64,
}

/// An organization's guard as an Admin or the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardStatus {
    /// Settings and state.
    pub state: GuardState,
    /// Where it stands now.
    pub phase: GuardPhase,
    /// Removals counted in the current window.
    pub removed: u64,
    /// Members active now.
    pub active: u64,
    /// The current window's limit.
    pub limit: u64,
    /// The held requests, oldest first (at most 1,000).
    pub held: Vec<HeldRemoval>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_larger_of_the_floor_and_the_share_rounded_up() {
        let s = GuardSettings::default();
        assert_eq!(s.limit(0), 10);
        assert_eq!(s.limit(100), 10);
        assert_eq!(s.limit(101), 11, "10 % of 101 rounds up");
        assert_eq!(s.limit(5_000), 500);
        let none = GuardSettings { max: 0, percent: 0, ..s };
        assert_eq!(none.limit(1_000), 0, "a zero limit holds every removal");
    }

    #[test]
    fn settings_out_of_range_are_refused_with_what_is_allowed() {
        let bad = GuardSettings { percent: 101, ..Default::default() }.checked().unwrap_err().to_string();
        assert!(bad.contains("0 to 100"), "{bad}");
        let short = GuardSettings { window_secs: 10, ..Default::default() }.checked().unwrap_err().to_string();
        assert!(short.contains("1 minute to 7 days"), "{short}");
        assert!(GuardSettings { window_secs: MAX_WINDOW_SECS, ..Default::default() }.checked().is_ok());
    }

    #[test]
    fn phases_follow_the_state_and_a_dismissal_restarts_the_count() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mut g = GuardState::default();
        assert_eq!(g.phase(now), GuardPhase::Counting);
        assert_eq!(g.counting_from(now), now - Duration::hours(1));
        g.counted_since = Some(now - Duration::minutes(5));
        assert_eq!(g.counting_from(now), now - Duration::minutes(5));
        g.approved_until = Some(now + Duration::minutes(1));
        assert_eq!(g.phase(now), GuardPhase::Approved);
        assert_eq!(g.phase(now + Duration::minutes(2)), GuardPhase::Counting, "an approval ends");
        g.held_since = Some(now);
        assert_eq!(g.phase(now), GuardPhase::Held);
        g.settings.enabled = false;
        assert_eq!(g.phase(now), GuardPhase::Off);
        assert_eq!(GuardSettings { window_secs: 1800, ..Default::default() }.window_words(), "30 minutes");
        assert_eq!(GuardSettings::default().window_words(), "1 hour");
    }
}
