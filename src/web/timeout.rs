//! How long a request may take before it is answered 408 and its work dropped. One limit for
//! every page, a longer one for uploads: an upload's time includes sending the file, and an
//! 8 MB photo from a phone on a slow connection (2 Mbit/s) takes over half a minute to arrive.
//! Which paths take uploads is given by the caller (`lib.rs`): this module knows no domain.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The limits, and the paths that take uploads.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// For every request but uploads.
    pub pages: Duration,
    /// For a request to one of `upload_paths` (any method: a page that shows an upload form
    /// is quick anyway).
    pub uploads: Duration,
    pub upload_paths: &'static [&'static str],
}

impl Timeouts {
    /// The limit for a request to `path`.
    pub fn limit_for(&self, path: &str) -> Duration {
        if self.upload_paths.contains(&path) { self.uploads } else { self.pages }
    }
}

/// Answers 408 (drawn as a page by the error-page layer) when the rest of the stack takes
/// longer than the request's limit; the work is dropped then, as a closed connection drops it.
pub async fn limit_time(State(timeouts): State<Timeouts>, request: Request, next: Next) -> Response {
    let limit = timeouts.limit_for(request.uri().path());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::middleware::from_fn_with_state;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    /// Takes 400 ms, then answers 200.
    async fn slow() -> StatusCode {
        tokio::time::sleep(Duration::from_millis(400)).await;
        StatusCode::OK
    }

    #[tokio::test]
    async fn uploads_get_the_longer_limit_and_everything_else_the_shorter() {
        let timeouts =
            Timeouts { pages: Duration::from_millis(100), uploads: Duration::from_secs(3), upload_paths: &["/upload"] };
        let app = Router::new()
            .route("/upload", post(slow))
            .route("/form", post(slow))
            .layer(from_fn_with_state(timeouts, limit_time));
        let status = |path: &'static str| {
            let app = app.clone();
            async move { app.oneshot(Request::post(path).body(Body::empty()).unwrap()).await.unwrap().status() }
        };
        assert_eq!(status("/upload").await, StatusCode::OK);
        assert_eq!(status("/form").await, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(timeouts.limit_for("/upload/more"), timeouts.pages, "only the paths given");
    }
}
