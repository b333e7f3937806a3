//! Scheduling coffees: deciding who meets whom.

pub mod matching;
