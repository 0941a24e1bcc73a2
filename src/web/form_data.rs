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
                serde_urlencoded::from_bytes(&bytes)
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
