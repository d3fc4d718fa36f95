//! `AccountRepo`: global accounts, one per email (folded column).

use super::{db_err, micros, other, time, DieselTx};
use crate::conn::binds;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use enlist_core::model::*;
use enlist_core::ports::*;
use enlist_core::types::*;
use enlist_core::Uniqueness;

#[derive(QueryableByName)]
struct AccountRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

impl AccountRepo for DieselTx<'_> {
    fn by_email(&mut self, email: &Email) -> RepoResult<Option<Account>> {
        let row: Option<AccountRow> = self
            .db
            .first("SELECT id, email, created_at FROM accounts WHERE email_folded = $1", binds![email.folded()])
            .map_err(other)?;
        row.map(account).transpose()
    }
    fn get(&mut self, id: &AccountId) -> RepoResult<Option<Account>> {
        let row: Option<AccountRow> = self
            .db
            .first("SELECT id, email, created_at FROM accounts WHERE id = $1", binds![id.as_str()])
            .map_err(other)?;
        row.map(account).transpose()
    }
    fn insert(&mut self, a: &Account) -> RepoResult<()> {
        self.db
            .exec(
                "INSERT INTO accounts (id, email, email_folded, created_at) VALUES ($1, $2, $3, $4)",
                binds![a.id.as_str(), a.email.as_str(), a.email.folded(), micros(a.created_at)],
            )
            .map_err(|e| db_err(e, |_| Uniqueness::AccountEmail))?;
        Ok(())
    }
    fn set_email(&mut self, id: &AccountId, email: &Email) -> RepoResult<()> {
        self.db
            .exec(
                "UPDATE accounts SET email = $1, email_folded = $2 WHERE id = $3",
                binds![email.as_str(), email.folded(), id.as_str()],
            )
            .map_err(|e| db_err(e, |_| Uniqueness::AccountEmail))?;
        Ok(())
    }
    fn delete_if_orphan(&mut self, id: &AccountId) -> RepoResult<bool> {
        let n = self
            .db
            .exec(
                "DELETE FROM accounts WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE account_id = $1)",
                binds![id.as_str()],
            )
            .map_err(other)?;
        Ok(n > 0)
    }
}

fn account(r: AccountRow) -> RepoResult<Account> {
    Ok(Account { id: AccountId::new(r.id), email: Email::from_stored(&r.email), created_at: time(r.created_at) })
}
