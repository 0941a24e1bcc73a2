//! The languages Sealpost speaks, and how a request picks one.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    En,
    Ru,
    Kk,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::En, Locale::Ru, Locale::Kk];

    /// Accepts a language tag (`ru`, `ru-RU`, `kk_KZ`, ...) if its primary language is one we speak.
    pub fn parse(tag: &str) -> Option<Self> {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Locale::En),
            "ru" => Some(Locale::Ru),
            "kk" => Some(Locale::Kk),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ru => "ru",
            Locale::Kk => "kk",
        }
    }

    /// The language's own name, for the language switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Ru => "Русский",
            Locale::Kk => "Қазақша",
        }
    }

    /// An explicit choice (`?lang=`) wins; then the browser's `Accept-Language` in order of
    /// preference; then the site default.
    pub fn negotiate(
        explicit: Option<&str>,
        accept_language: Option<&str>,
        default: Locale,
    ) -> Self {
        if let Some(locale) = explicit.and_then(Locale::parse) {
            return locale;
        }
        accept_language
            .map(accept_language::parse)
            .unwrap_or_default()
            .iter()
            .find_map(|tag| Locale::parse(tag))
            .unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_choice_wins() {
        assert_eq!(
            Locale::negotiate(Some("kk"), Some("ru-RU,ru;q=0.9"), Locale::En),
            Locale::Kk
        );
    }

    #[test]
    fn accept_language_is_followed_by_quality() {
        assert_eq!(
            Locale::negotiate(None, Some("de-DE,de;q=0.9,ru;q=0.8,en;q=0.7"), Locale::En),
            Locale::Ru
        );
        assert_eq!(
            Locale::negotiate(None, Some("en;q=0.5, kk-KZ"), Locale::Ru),
            Locale::Kk
        );
    }

    #[test]
    fn unknown_languages_fall_back_to_the_default() {
        assert_eq!(
            Locale::negotiate(Some("xx"), Some("fr"), Locale::Ru),
            Locale::Ru
        );
        assert_eq!(Locale::negotiate(None, None, Locale::En), Locale::En);
    }
}
