//! `AccountRepo`: global accounts, one per email (folded column).

use super::{db_err, micros, other, time, DieselTx};
use crate::conn::{binds, Backend};
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

/// An account, and whether this statement inserted it.
#[derive(QueryableByName)]
struct CreatedRow {
    #[diesel(embed)]
    account: AccountRow,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    created: bool,
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
    fn get_or_insert(&mut self, a: &Account) -> RepoResult<(Account, bool)> {
        if self.db.backend() != Backend::Postgres {
            // In process, two statements cost nothing more.
            return match AccountRepo::by_email(self, &a.email)? {
                Some(found) => Ok((found, false)),
                None => AccountRepo::insert(self, a).map(|()| (a.clone(), true)),
            };
        }
        // One round trip: the insert, or the account already there. None
        // of either when another transaction inserted the email after this
        // statement began: the unit runs again.
        let row: Option<CreatedRow> = self
            .db
            .first(
                "WITH ins AS (INSERT INTO accounts (id, email, email_folded, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (email_folded) DO NOTHING RETURNING id, email, created_at) \
                 SELECT id, email, created_at, TRUE AS created FROM ins \
                 UNION ALL SELECT id, email, created_at, FALSE AS created FROM accounts \
                 WHERE email_folded = $3 AND NOT EXISTS (SELECT 1 FROM ins)",
                binds![a.id.as_str(), a.email.as_str(), a.email.folded(), micros(a.created_at)],
            )
            .map_err(|e| db_err(e, |_| Uniqueness::AccountEmail))?;
        let Some(r) = row else { return Err(enlist_core::RepoError::Unique(Uniqueness::AccountEmail)) };
        Ok((account(r.account)?, r.created))
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
