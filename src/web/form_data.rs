//! Reads a posted HTML form, URL-encoded or multipart. The pages post multipart: a browser
//! percent-encodes every non-ASCII byte of a URL-encoded form, so a Russian or Kazakh message
//! triples in size and would hit the request limit long before the 20,000-character body limit;
//! multipart carries the UTF-8 as it is.

use poem::http::{StatusCode, header};
use poem::web::Multipart;
use poem::{Body, FromRequest, Request, RequestBody};

pub struct FormData(Vec<(String, String)>);

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
                    .map(FormData)
                    .map_err(bad_request)
            }
            Some("multipart/form-data") => {
                let mut multipart = Multipart::from_request(req, &mut RequestBody::new(body))
                    .await
                    .map_err(bad_request)?;
                let mut fields = Vec::new();
                while let Some(field) = multipart.next_field().await.map_err(bad_request)? {
                    let name = field.name().unwrap_or_default().to_owned();
                    if field.file_name().is_some() {
                        // No form of ours uploads files; drain and forget.
                        field.bytes().await.map_err(bad_request)?;
                        continue;
                    }
                    fields.push((name, field.text().await.map_err(bad_request)?));
                }
                Ok(FormData(fields))
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
}
