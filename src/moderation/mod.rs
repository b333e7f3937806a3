//! Moderation: members' reports and the admins' queue of cases (`reports`), the admin area
//! (dashboard, members' admin pages with their actions, roles, the audit log), and what a
//! warning, a hidden profile and a suspension do everywhere (`actions`). Every admin action
//! writes the audit log (`audit`) in its own transaction.

pub mod audit;
pub mod reports;

use crate::AppState;
use crate::web::routes::Routes;

pub fn routes() -> Routes<AppState> {
    Routes::new().merge(reports::routes())
}
