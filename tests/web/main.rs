//! Cuppa's integration tests: one binary, a module per domain, each test on its own database
//! through the real router.

mod account;
mod anonymous;
mod auth;
mod authz;
mod deletion;
mod faces;
mod feeds;
mod hardening;
mod holes;
mod hostile;
mod invitations;
mod meetups;
mod members;
mod metrics;
mod moderation;
mod notify;
mod ops;
mod pages;
mod photo_moderation;
mod photos;
mod reports;
mod scheduler;
mod social;
mod support;
#[path = "../common/db.rs"]
mod test_db;
mod throttle;
mod venues;
