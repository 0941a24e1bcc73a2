//! What every kind of mail shares in its templates: three of them in `templates/mail/<kind>/`
//! (subject, text body, HTML body) over one data struct, rendered in the reader's language.
//! Each kind declares its own with `mail_templates!`, beside the function that composes it.

/// The three rendered parts of a mail.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Declares the three templates of one kind of mail over a shared data struct.
macro_rules! mail_templates {
    ($data:ident, [$sp:literal, $tp:literal, $hp:literal], $subject:ident, $text:ident, $html:ident) => {
        #[derive(::askama::Template)]
        #[template(path = $sp)]
        struct $subject<'a> {
            d: &'a $data,
        }
        #[derive(::askama::Template)]
        #[template(path = $tp)]
        struct $text<'a> {
            d: &'a $data,
        }
        #[derive(::askama::Template)]
        #[template(path = $hp)]
        struct $html<'a> {
            d: &'a $data,
        }
        impl<'a> std::ops::Deref for $subject<'a> {
            type Target = $data;
            fn deref(&self) -> &$data {
                self.d
            }
        }
        impl<'a> std::ops::Deref for $text<'a> {
            type Target = $data;
            fn deref(&self) -> &$data {
                self.d
            }
        }
        impl<'a> std::ops::Deref for $html<'a> {
            type Target = $data;
            fn deref(&self) -> &$data {
                self.d
            }
        }
        impl $data {
            pub fn render(&self) -> Result<$crate::mailers::templates::Rendered, ::askama::Error> {
                use ::askama::Template as _;
                Ok($crate::mailers::templates::Rendered {
                    subject: $crate::mailers::templates::one_line(&$subject { d: self }.render()?),
                    text: $text { d: self }.render()?,
                    html: $html { d: self }.render()?,
                })
            }
        }
    };
}
pub(crate) use mail_templates;

/// Subjects are one line, whatever the template's trailing newline.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_never_span_lines() {
        assert_eq!(one_line("a\n b \r\n"), "a b");
    }
}
