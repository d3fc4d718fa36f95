//! `WebhookRepo`: webhook endpoints, per organization or for every one.

use super::{micros, other, time, DieselTx};
use crate::conn::binds;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::QueryableByName;
use enlist_core::model::Webhook;
use enlist_core::ports::*;
use enlist_core::types::{OrganizationId, WebhookId};

#[derive(QueryableByName)]
struct WebhookRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Nullable<Text>)]
    organization_id: Option<String>,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Bool)]
    allow_private: bool,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    disabled_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    disabled_reason: Option<String>,
}

const COLS: &str = "id, organization_id, url, secret, allow_private, created_at, disabled_at, disabled_reason";

impl WebhookRow {
    fn into_webhook(self) -> Webhook {
        Webhook {
            id: WebhookId::new(self.id),
            organization_id: self.organization_id.map(OrganizationId::new),
            url: self.url,
            secret: self.secret,
            allow_private: self.allow_private,
            created_at: time(self.created_at),
            disabled_at: self.disabled_at.map(time),
            disabled_reason: self.disabled_reason,
        }
    }
}

impl WebhookRepo for DieselTx<'_> {
    fn insert(&mut self, w: &Webhook) -> RepoResult<()> {
        self.db
            .exec(
                format!("INSERT INTO webhooks ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
                binds![
                    w.id.as_str(),
                    w.organization_id.as_ref().map(|o| o.as_str().to_owned()),
                    w.url.as_str(),
                    w.secret.as_str(),
                    w.allow_private,
                    micros(w.created_at),
                    w.disabled_at.map(micros),
                    w.disabled_reason.clone()
                ],
            )
            .map_err(other)?;
        Ok(())
    }
    fn get(&mut self, id: &WebhookId) -> RepoResult<Option<Webhook>> {
        let id = id.as_str();
        let row: Option<WebhookRow> =
            self.db.first(format!("SELECT {COLS} FROM webhooks WHERE id = $1"), binds![id]).map_err(other)?;
        Ok(row.map(WebhookRow::into_webhook))
    }
    fn list(&mut self, org: Option<&OrganizationId>) -> RepoResult<Vec<Webhook>> {
        let rows: Vec<WebhookRow> = match org {
            Some(o) => self.db.load(
                format!("SELECT {COLS} FROM webhooks WHERE organization_id = $1 ORDER BY created_at, id"),
                binds![o.as_str()],
            ),
            None => self.db.load(
                format!("SELECT {COLS} FROM webhooks WHERE organization_id IS NULL ORDER BY created_at, id"),
                vec![],
            ),
        }
        .map_err(other)?;
        Ok(rows.into_iter().map(WebhookRow::into_webhook).collect())
    }
    fn enabled(&mut self) -> RepoResult<Vec<Webhook>> {
        let rows: Vec<WebhookRow> = self
            .db
            .load(format!("SELECT {COLS} FROM webhooks WHERE disabled_at IS NULL ORDER BY created_at, id"), vec![])
            .map_err(other)?;
        Ok(rows.into_iter().map(WebhookRow::into_webhook).collect())
    }
    fn delete(&mut self, org: Option<&OrganizationId>, webhook: &WebhookId) -> RepoResult<bool> {
        let id = webhook.as_str();
        let n = match org {
            Some(o) => {
                self.db.exec("DELETE FROM webhooks WHERE id = $1 AND organization_id = $2", binds![id, o.as_str()])
            }
            None => self.db.exec("DELETE FROM webhooks WHERE id = $1 AND organization_id IS NULL", binds![id]),
        }
        .map_err(other)?;
        if n > 0 {
            // Its delivery history goes with it (its position is harmless).
            self.db
                .exec("DELETE FROM consumer_failures WHERE consumer = $1", binds![webhook.consumer_name().as_str()])
                .map_err(other)?;
        }
        Ok(n > 0)
    }
    fn disable(&mut self, id: &WebhookId, at: chrono::DateTime<chrono::Utc>, reason: &str) -> RepoResult<()> {
        let id = id.as_str();
        self.db
            .exec(
                "UPDATE webhooks SET disabled_at = $1, disabled_reason = $2 WHERE id = $3",
                binds![micros(at), reason, id],
            )
            .map_err(other)?;
        Ok(())
    }
}
