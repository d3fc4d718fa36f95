//! Webhook endpoints through the facade (feature `webhooks`): registering
//! one with its signing secret, sending a signed test, and the console's
//! `WebhookTools` port over both.

use crate::Enlist;

impl Enlist {
    /// Registers a webhook endpoint (feature `webhooks`): checks the URL
    /// and where it resolves, and returns the endpoint with its signing
    /// secret, shown only here. An Admin registers for its organization;
    /// the operator may register for every organization
    /// (`every_organization`) and allow private addresses.
    ///
    /// # Errors
    /// `InvalidValue` naming what is wrong with the URL; `Forbidden`.
    pub async fn register_webhook(
        &self,
        caller: &enlist_core::Caller,
        url: &str,
        every_organization: bool,
        allow_private: bool,
    ) -> Result<enlist_core::Webhook, enlist_core::Error> {
        enlist_webhooks::register(&self.services, &*self.ids, caller, url, every_organization, allow_private).await
    }

    /// Sends a signed `webhook.test` message to one endpoint now, as every
    /// delivery is sent (feature `webhooks`): the receiver's status, or a
    /// sentence saying what failed (with the start of the receiver's
    /// answer). An Admin tests its organization's endpoints; the operator
    /// also every-organization ones.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for an endpoint that is not the caller's
    /// organization's or is disabled.
    pub async fn test_webhook(
        &self,
        caller: &enlist_core::Caller,
        id: &enlist_core::WebhookId,
    ) -> Result<Result<u16, String>, enlist_core::Error> {
        let w = self.services.webhooks.for_test(caller, id).await?;
        let now = self.clock.now();
        let msg_id = format!("test-{}", now.timestamp_millis());
        let body =
            serde_json::json!({"id": msg_id, "type": "webhook.test", "organization": caller.organization_id.as_str(),
                                      "timestamp": now.to_rfc3339(), "data": {}})
            .to_string();
        let sender = match enlist_webhooks::Sender::new(&self.services, enlist_webhooks::DELIVERY_TIMEOUT) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let url = match enlist_webhooks::destination(&w) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        };
        Ok(enlist_webhooks::deliver(&sender, &w, &url, &msg_id, now.timestamp(), &body).await)
    }
}

#[cfg(feature = "console")]
#[async_trait::async_trait]
impl enlist_console::WebhookTools for Enlist {
    async fn register(
        &self,
        caller: &enlist_core::Caller,
        url: &str,
    ) -> Result<enlist_core::Webhook, enlist_core::Error> {
        let private = self.services.webhooks.private_for_admins();
        self.register_webhook(caller, url, false, private).await
    }

    async fn test(
        &self,
        caller: &enlist_core::Caller,
        id: &enlist_core::WebhookId,
    ) -> Result<Result<u16, String>, enlist_core::Error> {
        self.test_webhook(caller, id).await
    }
}
