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

/// Random UUIDs for ids, 256-bit hex secrets.
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
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
