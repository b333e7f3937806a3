//! Static files compiled into the binary, so `cuppa` runs from any working directory.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "cuppa.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/cuppa.css"),
    },
    Asset { name: "cuppa.svg", content_type: "image/svg+xml", body: include_bytes!("../../static/cuppa.svg") },
    // htmx 2.0.11 from the npm package htmx.org (0BSD licence), unmodified: it makes follow
    // buttons swap in place. Every page works without it.
    Asset {
        name: "htmx-2.0.11.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/htmx-2.0.11.min.js"),
    },
];

pub async fn serve_asset(Path(name): Path<String>) -> Result<Response, AppError> {
    let asset = ASSETS.iter().find(|a| a.name == name).ok_or(AppError::NotFound)?;
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    // Not immutable: file names carry no hash, so a deploy must be picked up within the hour.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    Ok(response)
}
