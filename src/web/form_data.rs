//! Reads a posted HTML form, URL-encoded or multipart. The pages post multipart: a browser
//! percent-encodes every non-ASCII byte of a URL-encoded form, so a Russian or Kazakh message
//! triples in size and would hit the request limit long before the 20,000-character body limit;
//! multipart carries the UTF-8 as it is. Uploaded files (the order copy of a disclosure
//! request) are kept apart from the text fields.

use poem::http::{StatusCode, header};
use poem::web::Multipart;
use poem::{Body, FromRequest, Request, RequestBody};

use crate::legal::intake::Upload;
use crate::messages::Draft;

pub struct FormData(Vec<(String, String)>, Vec<(String, Upload)>);

fn bad_request(what: impl std::fmt::Display) -> poem::Error {
    poem::Error::from_string(
        format!("could not read the form: {what}"),
        StatusCode::BAD_REQUEST,
    )
}

/// The fields of a URL-encoded form. Unlike `form_urlencoded`, which replaces bytes that are not
/// UTF-8 with U+FFFD, a name or value that does not decode to UTF-8 refuses the whole form: the
/// text a person typed is stored as sent or not at all.
fn urlencoded_fields(bytes: &[u8]) -> Result<Vec<(String, String)>, std::str::Utf8Error> {
    fn decode(part: &[u8]) -> Result<String, std::str::Utf8Error> {
        let spaced: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .map(|text| text.into_owned())
    }
    bytes
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

impl FormData {
    /// Reads the fields; `415` for any other content type, `400` for a form that does not parse.
    pub async fn read(req: &Request, body: Body) -> poem::Result<Self> {
        let essence = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .map(|m| m.essence_str().to_owned());
        match essence.as_deref() {
            Some("application/x-www-form-urlencoded") => {
                let bytes = body.into_bytes().await?;
                urlencoded_fields(&bytes)
                    .map(|fields| FormData(fields, Vec::new()))
                    .map_err(bad_request)
            }
            Some("multipart/form-data") => {
                let mut multipart = Multipart::from_request(req, &mut RequestBody::new(body))
                    .await
                    .map_err(bad_request)?;
                let mut fields = Vec::new();
                let mut files = Vec::new();
                while let Some(field) = multipart.next_field().await.map_err(bad_request)? {
                    let name = field.name().unwrap_or_default().to_owned();
                    if let Some(file_name) = field.file_name().map(str::to_owned) {
                        // The body limit bounds what is kept; a browser sends an empty part
                        // for a file input left empty.
                        let content_type = field.content_type().unwrap_or_default().to_owned();
                        let bytes = field.bytes().await.map_err(bad_request)?;
                        if !file_name.is_empty() || !bytes.is_empty() {
                            files.push((
                                name,
                                Upload {
                                    file_name,
                                    content_type,
                                    bytes,
                                },
                            ));
                        }
                        continue;
                    }
                    fields.push((name, field.text().await.map_err(bad_request)?));
                }
                Ok(FormData(fields, files))
            }
            _ => Err(poem::Error::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
        }
    }

    /// The first value of `name`, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Every value of `name` (checkboxes), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The visitor form's fields as typed, before parsing.
    pub fn draft(&self) -> Draft {
        Draft {
            name: self.get("name").to_owned(),
            email: self.get("email").to_owned(),
            subject: self.get("subject").to_owned(),
            body: self.get("body").to_owned(),
            consent: matches!(self.get("consent"), "on" | "yes" | "true" | "1"),
        }
    }

    /// The first file uploaded as `name`.
    pub fn file(&self, name: &str) -> Option<&Upload> {
        self.1.iter().find(|(k, _)| k == name).map(|(_, f)| f)
    }
}

#[cfg(test)]
mod tests {
    use super::urlencoded_fields;

    #[test]
    fn urlencoded_fields_decode_as_browsers_encode() {
        let fields =
            urlencoded_fields(b"name=Dmitri+K&body=%D0%BF%D1%80%D0%B8&empty=&flag&&x=a%2Bb")
                .expect("decodes");
        let expected: Vec<(String, String)> = [
            ("name", "Dmitri K"),
            ("body", "при"),
            ("empty", ""),
            ("flag", ""),
            ("x", "a+b"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(fields, expected);
    }

    #[test]
    fn a_form_that_is_not_utf8_is_refused_not_patched() {
        assert!(urlencoded_fields(b"body=caf%C3").is_err());
        assert!(urlencoded_fields(b"body=caf\xc3&consent=on").is_err());
        assert!(urlencoded_fields(b"na%FFme=x").is_err());
    }
}
