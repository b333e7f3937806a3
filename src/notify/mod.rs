//! In-app notifications and the email outbox. Every domain event calls `store::record` on its
//! own transaction.

pub mod model;
pub mod sender;
pub mod store;
