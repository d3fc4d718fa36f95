//! `/healthz` and the gauges of `/metrics` for the server: the database
//! answers, its pool, and the depth of the notification outbox.

use enlist_diesel::Database;

pub struct ServerHealth {
    pub db: Database,
}

#[async_trait::async_trait]
impl enlist_actix::Health for ServerHealth {
    async fn check(&self) -> Result<(), String> {
        self.db.ping().await.map_err(|e| e.to_string())
    }
    async fn gauges(&self) -> Vec<(&'static str, &'static str, f64)> {
        use enlist_core::ports::OutboxQueue;
        let (open, idle) = self.db.pool_state();
        let (pending, set_aside) = match self.db.stats().await {
            Ok(s) => (s.pending as f64, s.set_aside as f64),
            Err(_) => (f64::NAN, f64::NAN),
        };
        vec![
            ("enlist_db_pool_connections", "Open database connections.", f64::from(open)),
            ("enlist_db_pool_idle", "Idle database connections.", f64::from(idle)),
            ("enlist_outbox_depth", "Notifications waiting to be sent.", pending),
            ("enlist_outbox_set_aside", "Notifications set aside as undeliverable (see `enlist outbox`).", set_aside),
        ]
    }
}
