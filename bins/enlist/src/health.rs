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
        let depth = self.db.depth().await.map(|d| d as f64).unwrap_or(f64::NAN);
        vec![
            ("enlist_db_pool_connections", "Open database connections.", f64::from(open)),
            ("enlist_db_pool_idle", "Idle database connections.", f64::from(idle)),
            ("enlist_outbox_depth", "Notifications waiting to be sent.", depth),
        ]
    }
}
