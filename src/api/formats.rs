//! Text that the document describes with its format (`uuid`, `date`, `email`) or its list of
//! values (`enum`) while the handler still reads it as text: a malformed id stays the
//! operation's own 404, a malformed date its own 400 and an unknown value its own 422 with the
//! field named, instead of the framework's generic parse error. Clients and Swagger's "Try it
//! out" see the format and the values all the same.

use std::borrow::Cow;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

macro_rules! formatted_text {
    ($(#[$doc:meta])* $name:ident, $format:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                concat!("string_", $format).into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", $format)))
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromParameter for $name {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                Ok(Self(value.to_string()))
            }
        }

        /// As `String` reads JSON: a number or a boolean becomes its text, so that the
        /// handler's own check names the field.
        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value.unwrap_or_default() {
                    Value::String(text) => Ok(Self(text)),
                    Value::Number(number) => Ok(Self(number.to_string())),
                    Value::Bool(flag) => Ok(Self(flag.to_string())),
                    other => Err(ParseError::expected_type(other)),
                }
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self(text.to_string())
            }
        }
    };
}

formatted_text!(
    /// An id, `format: uuid` in the document.
    UuidText,
    "uuid"
);
formatted_text!(
    /// A day, `YYYY-MM-DD`, `format: date` in the document.
    DateText,
    "date"
);
formatted_text!(
    /// An e-mail address, `format: email` in the document.
    EmailText,
    "email"
);

/// The id the examples use for a path parameter: well-formed, so "Try it out" gets the
/// operation's own answer (a 404 on a database that has no such row).
pub const EXAMPLE_ID: &str = "0b1f6a52-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

pub fn example_id() -> UuidText {
    EXAMPLE_ID.into()
}

/// A closed list of values a text field takes.
pub trait Choices: Send + Sync + 'static {
    const NAME: &'static str;
    const VALUES: &'static [&'static str];
}

/// Text that should be one of `C::VALUES` (`enum` in the document); the handler checks it.
pub struct OneOf<C: Choices> {
    pub text: String,
    choices: PhantomData<fn() -> C>,
}

impl<C: Choices> OneOf<C> {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            choices: PhantomData,
        }
    }
}

impl<C: Choices> std::fmt::Debug for OneOf<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.text.fmt(f)
    }
}

impl<C: Choices> Type for OneOf<C> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        C::NAME.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new("string");
        schema.enum_items = C::VALUES.iter().map(|v| Value::from(*v)).collect();
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<C: Choices> ParseFromJSON for OneOf<C> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        String::parse_from_json(value)
            .map(|text| Self::new(&text))
            .map_err(ParseError::propagate)
    }
}

impl<C: Choices> ToJSON for OneOf<C> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.text.clone()))
    }
}

macro_rules! choices {
    ($(#[$doc:meta])* $name:ident, $values:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl Choices for $name {
            const NAME: &'static str = stringify!($name);
            const VALUES: &'static [&'static str] = &$values;
        }
    };
}

choices!(
    /// A conversation's status (`domain::ThreadStatus`).
    ThreadStatusChoice,
    ["new", "open", "answered", "closed", "spam"]
);
choices!(
    /// A role (`domain::Role`).
    RoleChoice,
    ["agent", "legal", "admin"]
);
choices!(
    /// The legal instrument of a disclosure request (`domain::disclosure::Instrument`).
    InstrumentChoice,
    ["subpoena", "court_order", "warrant", "emergency", "user_consent"]
);
choices!(
    /// A category of data a disclosure asks for (`domain::disclosure::Category`).
    CategoryChoice,
    ["contact_data", "message_content", "technical_data"]
);
choices!(
    /// A decision on a disclosure request: the states a person may move it to.
    DecisionChoice,
    ["under_review", "approved", "rejected", "withdrawn"]
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Category, DisclosureState, Instrument, Role, ThreadStatus};

    /// The lists in the document are the domain's values, no more and no fewer.
    #[test]
    fn every_list_names_exactly_the_domain_values() {
        let statuses: Vec<_> = ThreadStatusChoice::VALUES
            .iter()
            .map(|v| ThreadStatus::parse(v).map(ThreadStatus::as_str))
            .collect();
        assert_eq!(
            statuses,
            ThreadStatusChoice::VALUES
                .iter()
                .map(|v| Some(*v))
                .collect::<Vec<_>>()
        );
        for v in RoleChoice::VALUES {
            assert_eq!(Role::parse(v).map(Role::as_str), Some(*v));
        }
        assert_eq!(
            Instrument::ALL.map(Instrument::as_str).to_vec(),
            InstrumentChoice::VALUES.to_vec()
        );
        assert_eq!(
            Category::ALL.map(Category::as_str).to_vec(),
            CategoryChoice::VALUES.to_vec()
        );
        for v in DecisionChoice::VALUES {
            let state = DisclosureState::parse(v).expect("a state");
            assert!(
                DisclosureState::ALL
                    .iter()
                    .any(|from| from.can_move_to(state)),
                "{v} is no decision"
            );
        }
    }
}
