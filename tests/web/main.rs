//! Cuppa's integration tests: one binary, a module per domain, each test on its own database
//! through the real router.

mod auth;
mod feeds;
mod invitations;
mod meetups;
mod members;
mod notify;
mod ops;
mod scheduler;
mod social;
mod support;
mod venues;
