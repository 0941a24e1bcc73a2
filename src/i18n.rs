//! Translations: Project Fluent files under `templates/locales/<lang>/`, compiled into the
//! binary. Templates get a [`Tr`] for the request's locale and look strings up by id.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};

use crate::domain::Locale;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./templates/locales",
        fallback_language: "en",
        // Bidi isolation marks around arguments would end up inside references and URLs.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

fn langid(locale: Locale) -> LanguageIdentifier {
    match locale {
        Locale::En => langid!("en"),
        Locale::Ru => langid!("ru"),
        Locale::Kk => langid!("kk"),
    }
}

/// The translator handed to templates.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    locale: Locale,
}

impl Tr {
    pub fn new(locale: Locale) -> Self {
        Self { locale }
    }

    pub fn locale(&self) -> Locale {
        self.locale
    }

    pub fn lang(&self) -> &'static str {
        self.locale.code()
    }

    /// The string `id`, falling back to English, then to the id itself.
    pub fn get(&self, id: &str) -> String {
        LOCALES
            .try_lookup(&langid(self.locale), id)
            .unwrap_or_else(|| id.to_owned())
    }

    /// The string `id` with one argument.
    pub fn arg(&self, id: &str, name: &'static str, value: impl std::fmt::Display) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> =
            HashMap::from([(Cow::Borrowed(name), FluentValue::from(value.to_string()))]);
        LOCALES
            .try_lookup_with_args(&langid(self.locale), id, &args)
            .unwrap_or_else(|| id.to_owned())
    }

    /// The string `id` with a number `name`, which selects the plural form
    /// (`{ $count -> [one] ... *[other] ... }`) by the language's own rules.
    pub fn count(&self, id: &str, name: &'static str, n: usize) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> =
            HashMap::from([(Cow::Borrowed(name), FluentValue::from(n))]);
        LOCALES
            .try_lookup_with_args(&langid(self.locale), id, &args)
            .unwrap_or_else(|| id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn message_ids(lang: &str) -> BTreeSet<String> {
        let path = format!(
            "{}/templates/locales/{lang}/main.ftl",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.lines()
            .filter(|l| !l.starts_with([' ', '#', '\t']) && l.contains(" ="))
            .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    #[test]
    fn every_language_has_every_string() {
        let en = message_ids("en");
        assert!(en.len() > 20, "en has only {} strings", en.len());
        for lang in ["ru", "kk"] {
            let other = message_ids(lang);
            let missing: Vec<_> = en.difference(&other).collect();
            let extra: Vec<_> = other.difference(&en).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            assert!(extra.is_empty(), "{lang} has unknown {extra:?}");
        }
    }

    #[test]
    fn lookups_are_localized_and_take_arguments() {
        assert_eq!(Tr::new(Locale::En).get("form-submit"), "Send message");
        assert_ne!(
            Tr::new(Locale::Ru).get("form-submit"),
            Tr::new(Locale::En).get("form-submit")
        );
        assert!(
            Tr::new(Locale::En)
                .arg("error-too-long", "max", 100)
                .contains("100")
        );
    }

    #[test]
    fn counts_take_each_languages_plural_forms() {
        let placed = |locale, n| Tr::new(locale).count("legal-hold-placed", "count", n);
        assert_eq!(placed(Locale::En, 1), "Hold placed on 1 conversation.");
        assert_eq!(placed(Locale::En, 2), "Hold placed on 2 conversations.");
        assert_eq!(placed(Locale::En, 5), "Hold placed on 5 conversations.");
        // Russian: one (1, 21), few (2-4, 22), many (5-20, 25).
        assert_eq!(placed(Locale::Ru, 1), "Удержание наложено на 1 переписку.");
        assert_eq!(placed(Locale::Ru, 2), "Удержание наложено на 2 переписки.");
        assert_eq!(placed(Locale::Ru, 5), "Удержание наложено на 5 переписок.");
        assert_eq!(
            placed(Locale::Ru, 11),
            "Удержание наложено на 11 переписок."
        );
        assert_eq!(
            placed(Locale::Ru, 21),
            "Удержание наложено на 21 переписку."
        );
        assert_eq!(
            placed(Locale::Ru, 22),
            "Удержание наложено на 22 переписки."
        );
        // Kazakh: a noun after a numeral stays singular.
        assert_eq!(placed(Locale::Kk, 1), "1 хат алмасу ұстауға алынды.");
        assert_eq!(placed(Locale::Kk, 5), "5 хат алмасу ұстауға алынды.");
    }
}
