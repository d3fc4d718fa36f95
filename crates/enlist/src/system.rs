//! The real clock and randomness, the defaults of the builder: the only
//! place Enlist reads them.

use enlist_core::ports::{Clock, IdGenerator};

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place that reads the wall clock.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

/// Time-ordered UUIDs (version 7, RFC 9562) for ids, 256-bit hex secrets.
///
/// Ids are keys of B-tree indexes on every table: a random (version 4) id
/// lands on a random leaf page, so each insert dirtied one page per such
/// index, and SQLite's one writer wrote each of them to its WAL again at
/// every commit. A version 7 id starts with the time, so new rows append
/// to the pages already dirty; its 74 random bits still make ids
/// unguessable. Ids are opaque to clients either way.
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn id(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
    fn secret(&self) -> String {
        let mut bytes = [0u8; 32];
        // The OS RNG does not fail on supported platforms; if it ever
        // did, two v4 UUIDs still give 244 random bits.
        if getrandom::fill(&mut bytes).is_err() {
            bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_ordered_by_creation() {
        // Ordered ids append to an index's last page instead of a random one.
        let ids: Vec<String> = (0..2000).map(|_| RandomIds.id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids must increase in creation order");
        assert!(ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 7)));
    }
}
