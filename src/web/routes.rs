//! A router that remembers its routes. axum's `Router` cannot list what it serves, and the
//! authorisation matrix test must fail when a route is added without a row of expectations:
//! every domain builds its routes through `Routes`, so the list and the router cannot drift.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{get, post};

/// The methods Cuppa routes: pages are GET (HEAD comes with it), changes are POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One served (method, path pattern), as given to axum (`/m/{handle}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
}

pub struct Routes<S> {
    router: Router<S>,
    list: Vec<Route>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes { router: Router::new(), list: Vec::new() }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A page. axum merges two registrations of one path into one method router.
    pub fn get<H: Handler<T, S>, T: 'static>(mut self, path: &'static str, handler: H) -> Self {
        self.router = self.router.route(path, get(handler));
        self.list.push(Route { method: Method::Get, path });
        self
    }

    /// A change, behind the CSRF check like every non-GET request.
    pub fn post<H: Handler<T, S>, T: 'static>(mut self, path: &'static str, handler: H) -> Self {
        self.router = self.router.route(path, post(handler));
        self.list.push(Route { method: Method::Post, path });
        self
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.list.extend(other.list);
        self
    }

    /// Every route, in the order they were added.
    pub fn list(&self) -> &[Route] {
        &self.list
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}
