//! Reports and the admins' queue of cases.

use crate::AppState;
use crate::web::routes::Routes;

pub fn routes() -> Routes<AppState> {
    Routes::new()
}
