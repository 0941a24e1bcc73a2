//! Staff accounts: creating them with an argon2id password hash (OWASP parameters:
//! 19 MiB, 2 passes, 1 lane), and disabling or enabling them. Nobody can read a password, and
//! no function here sets another person's password.

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, SqlErr,
};
use uuid::Uuid;

use crate::domain::{Login, NewPassword, Role};
use crate::entities::staff;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a staff account `{0}` exists already")]
    LoginTaken(String),
    #[error("no staff account `{0}`")]
    NoSuchLogin(String),
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn argon2() -> Argon2<'static> {
    // OWASP's first recommended argon2id configuration.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of an argon2id hash of `password` with a fresh salt.
pub fn hash_password(password: &NewPassword) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Whether `password` matches a stored hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

/// Creates a staff account; the first administrator of a fresh install is made this way.
pub async fn add_staff(
    db: &DatabaseConnection,
    login: &Login,
    role: Role,
    password: &NewPassword,
) -> Result<Uuid, AccountError> {
    let now = Utc::now().fixed_offset();
    let id = Uuid::now_v7();
    let inserted = staff::ActiveModel {
        id: Set(id),
        login: Set(login.as_str().to_owned()),
        role: Set(role.as_str().to_owned()),
        password_hash: Set(hash_password(password)?),
        disabled: Set(false),
        password_changed_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => Ok(id),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(AccountError::LoginTaken(login.as_str().to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Disables (or enables again) an account; a disabled account cannot sign in.
pub async fn set_disabled(
    db: &DatabaseConnection,
    login: &Login,
    disabled: bool,
) -> Result<(), AccountError> {
    let account = staff::Entity::find()
        .filter(staff::Column::Login.eq(login.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| AccountError::NoSuchLogin(login.as_str().to_owned()))?;
    let mut active: staff::ActiveModel = account.into();
    active.disabled = Set(disabled);
    active.updated_at = Set(Utc::now().fixed_offset());
    active.update(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let login = Login::parse("anna").expect("login");
        let password = NewPassword::parse("correct horse battery staple orbit".into(), &login)
            .expect("strong");
        let a = hash_password(&password).expect("hash");
        let b = hash_password(&password).expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!a.contains("horse"));
        assert!(verify_password("correct horse battery staple orbit", &a));
        assert!(!verify_password("correct horse battery staple orbiT", &a));
        assert!(!verify_password("anything", "not a hash"));
    }
}
