//! Staff identities: a login, one role, and a password that passed the strength check.

use secrecy::{ExposeSecret, SecretString};

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads and answers messages.
    Agent,
    /// Runs the disclosure workflow.
    Legal,
    /// Manages accounts, API keys and settings.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Legal => "legal",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "agent" => Some(Role::Agent),
            "legal" => Some(Role::Legal),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A staff login: 3 to 64 of a-z, 0-9, `.`, `_`, `-`, compared without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login(String);

/// Why a login is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("a login has 3 to 64 characters")]
    Length,
    #[error("a login uses only letters a-z, digits, '.', '_' and '-'")]
    Characters,
}

impl Login {
    pub fn parse(input: &str) -> Result<Self, LoginError> {
        let login = input.trim().to_ascii_lowercase();
        if !(3..=64).contains(&login.len()) {
            return Err(LoginError::Length);
        }
        if !login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err(LoginError::Characters);
        }
        Ok(Self(login))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRefusal {
    #[error("the password is too short: use at least {min} characters")]
    TooShort { min: usize },
    #[error("the password is longer than 1024 characters")]
    TooLong,
    /// `reason` and `hint` are whole sentences, each ending with its own full stop.
    #[error("the password is too easy to guess: {reason}{}", spaced(.hint))]
    Guessable {
        reason: String,
        hint: Option<String>,
    },
}

/// A password that passed the strength check: at least 12 characters and not guessable
/// (zxcvbn score 3 or more, judged with the login as a known word).
pub struct NewPassword(SecretString);

impl NewPassword {
    pub const MIN_CHARS: usize = 12;

    /// Checks `input`; the error says why it is refused.
    pub fn parse(input: SecretString, login: &Login) -> Result<Self, PasswordRefusal> {
        let password = input.expose_secret();
        if password.chars().count() < Self::MIN_CHARS {
            return Err(PasswordRefusal::TooShort {
                min: Self::MIN_CHARS,
            });
        }
        if password.chars().count() > 1024 {
            return Err(PasswordRefusal::TooLong);
        }
        let estimate = zxcvbn::zxcvbn(password, &[login.as_str(), "sealpost"]);
        if (estimate.score() as u8) < 3 {
            let reason = estimate
                .feedback()
                .and_then(|f| f.warning().map(|w| sentence(&w.to_string())))
                .unwrap_or_else(|| "it would be guessed quickly.".into());
            let hint = estimate
                .feedback()
                .and_then(|f| f.suggestions().first().map(|s| sentence(&s.to_string())));
            return Err(PasswordRefusal::Guessable { reason, hint });
        }
        Ok(Self(input))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// A second sentence after the first, if there is one.
fn spaced(hint: &Option<String>) -> String {
    hint.as_deref().map(|h| format!(" {h}")).unwrap_or_default()
}

/// `text` as one sentence ending with exactly one mark: zxcvbn's warnings and suggestions
/// mostly end with a full stop already, and some do not.
fn sentence(text: &str) -> String {
    let text = text.trim().trim_end_matches('.').trim_end();
    if text.ends_with(['!', '?']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> Login {
        Login::parse("anna.admin").expect("login")
    }

    #[test]
    fn logins_are_normalized_and_checked() {
        assert_eq!(
            Login::parse(" Anna.Admin ").expect("ok").as_str(),
            "anna.admin"
        );
        assert!(Login::parse("ab").is_err());
        assert!(Login::parse("anna admin").is_err());
        assert!(Login::parse("anna@example.org").is_err());
    }

    #[test]
    fn short_or_guessable_passwords_are_refused_with_the_reason() {
        let short = NewPassword::parse("Tr0ub4dor&3".into(), &login())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(short.contains("at least 12"), "{short}");
        let common = NewPassword::parse("password1234".into(), &login())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(common.contains("too easy to guess"), "{common}");
        let own_login = NewPassword::parse("anna.admin2026".into(), &login())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(own_login.contains("too easy to guess"), "{own_login}");
    }

    #[test]
    fn a_refusal_has_one_full_stop_between_its_sentences() {
        for password in [
            "password1234",
            "anna.admin2026",
            "qwertyuiopasdf",
            "aaaaaaaaaaaaaaa",
            "abcdefghijklmn",
            "iloveyou2020",
            "Password1234!",
        ] {
            let Err(refusal) = NewPassword::parse(password.into(), &login()) else {
                panic!("{password} is accepted");
            };
            let text = refusal.to_string();
            assert!(!text.contains(".."), "{password}: {text}");
            assert!(!text.contains(". ."), "{password}: {text}");
            assert!(text.ends_with(['.', '!', '?']), "{password}: {text}");
            let PasswordRefusal::Guessable { reason, hint } = &refusal else {
                panic!("{password}: {refusal:?}");
            };
            assert!(text.contains(reason.as_str()), "{password}: {text}");
            if let Some(hint) = hint {
                assert!(text.ends_with(&format!("{reason} {hint}")), "{text}");
            }
        }
        // The warning zxcvbn gives for this one ends with its own full stop.
        let common = NewPassword::parse("password1234".into(), &login())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(common.contains("password. "), "{common}");
        assert_eq!(
            sentence("Add another word or two."),
            "Add another word or two."
        );
        assert_eq!(
            sentence("Add another word or two"),
            "Add another word or two."
        );
        assert_eq!(sentence("Avoid dates!"), "Avoid dates!");
    }

    #[test]
    fn a_long_random_passphrase_is_accepted() {
        assert!(NewPassword::parse("correct horse battery staple orbit".into(), &login()).is_ok());
    }
}
