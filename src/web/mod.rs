//! The server-rendered pages: the public feedback form, the confirmation, the visitor's private
//! thread, the privacy policy. Handlers parse input into domain types, call the service in
//! `crate::messages`, and render an askama template; they never touch the database themselves.

mod form;
pub mod form_data;
mod my_data;
mod pages;
mod staff;
mod thread;

use poem::{EndpointExt, IntoEndpoint, Route, get};

use crate::http::BodyLimit;

pub use crate::http::WebErrors;
pub(crate) use crate::http::page::{
    Chrome, not_found, render, request_locale, see_other, unavailable,
};
pub(crate) use crate::state::App;

/// The page routes, with HTML error pages.
pub fn routes(max_request_bytes: usize) -> impl IntoEndpoint {
    Route::new()
        .nest("/staff", staff::routes(max_request_bytes))
        .at("/", get(form::show).post(form::submit))
        .at("/sent/:token", get(form::sent))
        .at("/t/:token", get(thread::show).post(thread::write_again))
        .at("/t/:token/export", get(my_data::export))
        .at(
            "/t/:token/erase",
            get(my_data::confirm).post(my_data::erase),
        )
        .at("/privacy", get(pages::privacy))
        .at("/transparency", get(pages::transparency))
        .at("/static/sealpost.css", get(pages::stylesheet))
        .at("/static/altcha/:file", get(pages::widget_file))
        .at("/static/pow.js", get(pages::pow_script))
        .at("/favicon.svg", get(pages::favicon))
        .with(BodyLimit::new(max_request_bytes).allow(
            "/staff/legal/requests",
            crate::legal::request_limit("/staff/legal/requests", max_request_bytes),
        ))
        .with(WebErrors)
}
