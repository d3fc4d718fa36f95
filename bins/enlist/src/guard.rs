//! `enlist org guard`: the operator's view of an organization's
//! deprovisioning guard, its settings, and the decision on what it holds.

use crate::cli::GuardAction;
use crate::ops::{operator, print_json};
use crate::term::{note, say};
use anyhow::anyhow;
use enlist_core::guard::{GuardPhase, GuardSettings, GuardStatus};
use enlist_core::{Organization, Services};
use serde_json::json;

/// Settings given on the command line; what is not given stays.
pub(crate) struct Changes {
    pub(crate) max: Option<u32>,
    pub(crate) percent: Option<u8>,
    pub(crate) window: Option<String>,
}

/// `90s`, `30m`, `1h`, `2d` or plain seconds.
pub(crate) fn parse_window(s: &str) -> anyhow::Result<u32> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u32 = digits.parse().map_err(|_| anyhow!("--window {s}: write it as 90s, 30m, 1h or 2d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(anyhow!("--window {s}: the unit is s, m, h or d (for example 1h)")),
    };
    n.checked_mul(scale).ok_or_else(|| anyhow!("--window {s} is too long; at most 7d"))
}

pub(crate) async fn guard_cmd(
    e: &Services,
    o: &Organization,
    action: GuardAction,
    changes: Changes,
    json: bool,
) -> anyhow::Result<()> {
    let op = operator(o);
    let changing = changes.max.is_some() || changes.percent.is_some() || changes.window.is_some();
    if changing && !matches!(action, GuardAction::Show | GuardAction::On | GuardAction::Off) {
        return Err(anyhow!("change settings and decide separately: drop --max/--percent/--window, or the decision"));
    }
    match action {
        GuardAction::Approve => {
            let n = e.guard.approve(&op).await?;
            say!("approved {n} held removal(s) in '{}': the identity provider's retries now apply", o.name);
            note!("removals pass for the rest of this window; the guard then counts again");
        }
        GuardAction::Dismiss => {
            let n = e.guard.dismiss(&op).await?;
            say!("dismissed the hold of {n} removal(s) in '{}': nothing was approved", o.name);
            note!("counting starts afresh; removals the identity provider still sends are counted from zero");
        }
        GuardAction::Show | GuardAction::On | GuardAction::Off => {
            let status = if changing || action != GuardAction::Show {
                let mut s = e.guard.status(&op).await?.state.settings;
                if let Some(max) = changes.max {
                    s.max = max;
                }
                if let Some(p) = changes.percent {
                    s.percent = p;
                }
                if let Some(w) = &changes.window {
                    s.window_secs = parse_window(w)?;
                }
                s.enabled = match action {
                    GuardAction::On => true,
                    GuardAction::Off => false,
                    _ => s.enabled,
                };
                e.guard.configure(&op, s).await?
            } else {
                e.guard.status(&op).await?
            };
            if json {
                print_json(&status_json(&status));
            } else {
                print_status(o, &status);
            }
        }
    }
    Ok(())
}

fn limit_words(s: &GuardSettings) -> String {
    format!("the larger of {} and {} % of active members, per {}", s.max, s.percent, s.window_words())
}

fn print_status(o: &Organization, status: &GuardStatus) {
    let s = &status.state.settings;
    let phase = match status.phase {
        GuardPhase::Off => "OFF (removals are counted, never held)".to_owned(),
        GuardPhase::Counting => "counting".to_owned(),
        GuardPhase::Held => format!(
            "HOLDING removals since {}",
            status.state.held_since.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
        ),
        GuardPhase::Approved => format!(
            "approved: removals pass until {}",
            status.state.approved_until.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
        ),
    };
    say!("deprovisioning guard of '{}': {phase}", o.name);
    say!("  limit: {} ({}; {} active now)", status.limit, limit_words(s), status.active);
    say!("  removed in this window: {}", status.removed);
    if status.held.is_empty() {
        return;
    }
    say!("  held requests ({}, one per person):", status.held.len());
    for h in &status.held {
        say!(
            "    {:<32} {:<10} {} attempt(s), first {}  key '{}'",
            h.email,
            h.removal.as_str(),
            h.attempts,
            h.first_at.format("%Y-%m-%d %H:%M:%S"),
            h.key_label
        );
    }
    note!(
        "next: if the identity provider's scope or groups changed by mistake, fix it there, then run \
         `enlist org guard '{0}' dismiss`; if the removals are intended, run `enlist org guard '{0}' approve`",
        o.name
    );
}

fn status_json(status: &GuardStatus) -> serde_json::Value {
    let s = &status.state.settings;
    let t = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339());
    json!({
        "phase": status.phase.as_str(),
        "settings": {"enabled": s.enabled, "max": s.max, "percent": s.percent, "windowSeconds": s.window_secs},
        "heldSince": t(status.state.held_since),
        "approvedUntil": t(status.state.approved_until),
        "removed": status.removed,
        "active": status.active,
        "limit": status.limit,
        "held": status.held.iter().map(|h| json!({
            "userId": h.user_id.as_str(), "userName": h.user_name, "email": h.email,
            "removal": h.removal.as_str(), "keyLabel": h.key_label, "attempts": h.attempts,
            "firstAt": h.first_at.to_rfc3339(), "lastAt": h.last_at.to_rfc3339(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_window;

    #[test]
    fn windows_read_as_people_write_them_and_nonsense_says_how() {
        assert_eq!(parse_window("90s").unwrap(), 90);
        assert_eq!(parse_window("30m").unwrap(), 1800);
        assert_eq!(parse_window("1h").unwrap(), 3600);
        assert_eq!(parse_window("2d").unwrap(), 172_800);
        assert_eq!(parse_window("600").unwrap(), 600);
        assert!(parse_window("1w").unwrap_err().to_string().contains("s, m, h or d"));
        assert!(parse_window("h").unwrap_err().to_string().contains("90s, 30m"));
    }
}
