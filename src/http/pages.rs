//! The few HTML pages (landing, install result, errors) and their assets,
//! compiled into the binary so the app runs from any directory.

use askama::Template;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::SharedState;

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    install_url: String,
}

#[derive(Template)]
#[template(path = "installed.html")]
pub struct InstalledPage {
    pub team_name: String,
    pub team_id: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub message: String,
    pub retry_url: Option<String>,
}

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/", get(index))
        .route("/static/style.css", get(style))
        .route("/static/logo.svg", get(logo))
}

async fn index() -> Response {
    render(
        StatusCode::OK,
        &IndexPage {
            install_url: "/slack/install".into(),
        },
    )
}

async fn style() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    )
}

async fn logo() -> Response {
    asset("image/svg+xml", include_str!("../../static/logo.svg"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// Renders a page; a template that fails to render is our bug, logged.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An error page with a way back into the install flow.
pub fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    retry_url: Option<&str>,
) -> Response {
    render(
        status,
        &ErrorPage {
            status: status.as_u16(),
            title: title.to_owned(),
            message: message.to_owned(),
            retry_url: retry_url.map(str::to_owned),
        },
    )
}
