//! The vocabulary of the disclosure workflow: the states a request moves through, the legal
//! instruments it can rest on, and the categories of data it can ask for.

use std::collections::BTreeSet;

/// Where a disclosure request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DisclosureState {
    Received,
    UnderReview,
    Approved,
    Rejected,
    Executed,
    Withdrawn,
}

impl DisclosureState {
    pub const ALL: [DisclosureState; 6] = [
        DisclosureState::Received,
        DisclosureState::UnderReview,
        DisclosureState::Approved,
        DisclosureState::Rejected,
        DisclosureState::Executed,
        DisclosureState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisclosureState::Received => "received",
            DisclosureState::UnderReview => "under_review",
            DisclosureState::Approved => "approved",
            DisclosureState::Rejected => "rejected",
            DisclosureState::Executed => "executed",
            DisclosureState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s.trim())
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            DisclosureState::Received => "received",
            DisclosureState::UnderReview => "under review",
            DisclosureState::Approved => "approved",
            DisclosureState::Rejected => "rejected",
            DisclosureState::Executed => "executed",
            DisclosureState::Withdrawn => "withdrawn",
        }
    }

    /// The states a request may move to from this one by a written decision. `executed` is
    /// reached only by executing an approved request, never by a transition of its own.
    pub fn next(self) -> &'static [DisclosureState] {
        use DisclosureState::*;
        match self {
            Received => &[UnderReview, Withdrawn],
            UnderReview => &[Approved, Rejected, Withdrawn],
            Approved => &[Withdrawn],
            Rejected | Executed | Withdrawn => &[],
        }
    }

    pub fn can_move_to(self, to: DisclosureState) -> bool {
        self.next().contains(&to)
    }

    /// Whether nothing more can happen to the request.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DisclosureState::Rejected | DisclosureState::Executed | DisclosureState::Withdrawn
        )
    }
}

/// The legal basis a request rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Instrument {
    Subpoena,
    CourtOrder,
    Warrant,
    Emergency,
    UserConsent,
}

impl Instrument {
    pub const ALL: [Instrument; 5] = [
        Instrument::Subpoena,
        Instrument::CourtOrder,
        Instrument::Warrant,
        Instrument::Emergency,
        Instrument::UserConsent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Instrument::Subpoena => "subpoena",
            Instrument::CourtOrder => "court_order",
            Instrument::Warrant => "warrant",
            Instrument::Emergency => "emergency",
            Instrument::UserConsent => "user_consent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == s.trim())
    }

    /// What a person reads (staff pages; the public pages translate).
    pub fn label(self) -> &'static str {
        match self {
            Instrument::Subpoena => "subpoena",
            Instrument::CourtOrder => "court order",
            Instrument::Warrant => "warrant",
            Instrument::Emergency => "emergency request",
            Instrument::UserConsent => "the user's consent",
        }
    }
}

/// A kind of data a request can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// The sealed address, name and IP of the visitor.
    ContactData,
    /// The messages of the thread.
    MessageContent,
    /// What the service knows technically: the sealed IP, times, the language.
    TechnicalData,
}

impl Category {
    pub const ALL: [Category; 3] = [
        Category::ContactData,
        Category::MessageContent,
        Category::TechnicalData,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::ContactData => "contact_data",
            Category::MessageContent => "message_content",
            Category::TechnicalData => "technical_data",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::ContactData => "contact data (address, name, IP)",
            Category::MessageContent => "message content",
            Category::TechnicalData => "technical data (IP, times, language)",
        }
    }
}

/// A non-empty set of categories, stored as a comma-separated list in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Categories(BTreeSet<Category>);

impl Categories {
    /// `None` for an empty list or an unknown name.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let set = names
            .into_iter()
            .map(Category::parse)
            .collect::<Option<BTreeSet<_>>>()?;
        (!set.is_empty()).then_some(Self(set))
    }

    /// Reads the stored form back; `None` when it was never set or does not parse.
    pub fn from_stored(stored: &str) -> Option<Self> {
        Self::parse(stored.split(',').filter(|s| !s.is_empty()))
    }

    pub fn to_stored(&self) -> String {
        self.names().join(",")
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|c| c.as_str()).collect()
    }

    pub fn contains(&self, category: Category) -> bool {
        self.0.contains(&category)
    }

    pub fn is_subset(&self, of: &Categories) -> bool {
        self.0.is_subset(&of.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Category> + '_ {
        self.0.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_only_the_documented_moves_exist() {
        for state in DisclosureState::ALL {
            assert_eq!(DisclosureState::parse(state.as_str()), Some(state));
        }
        use DisclosureState::*;
        assert!(Received.can_move_to(UnderReview));
        assert!(!Received.can_move_to(Approved));
        assert!(UnderReview.can_move_to(Approved));
        assert!(UnderReview.can_move_to(Rejected));
        assert!(Approved.can_move_to(Withdrawn));
        assert!(!Approved.can_move_to(Executed), "only execution executes");
        assert!(!Rejected.can_move_to(Withdrawn));
        for state in [Rejected, Executed, Withdrawn] {
            assert!(state.next().is_empty());
            assert!(state.is_final());
        }
    }

    #[test]
    fn categories_parse_store_and_compare() {
        let both = Categories::parse(["message_content", "contact_data"]).expect("valid");
        assert_eq!(both.to_stored(), "contact_data,message_content");
        assert_eq!(
            Categories::from_stored(&both.to_stored()),
            Some(both.clone())
        );
        let one = Categories::parse(["contact_data"]).expect("valid");
        assert!(one.is_subset(&both));
        assert!(!both.is_subset(&one));
        assert_eq!(Categories::parse(Vec::<&str>::new()), None);
        assert_eq!(Categories::parse(["contact_data", "passwords"]), None);
        assert_eq!(Categories::from_stored(""), None);
    }

    #[test]
    fn instruments_round_trip() {
        for i in Instrument::ALL {
            assert_eq!(Instrument::parse(i.as_str()), Some(i));
        }
        assert_eq!(Instrument::parse("letter"), None);
    }
}
