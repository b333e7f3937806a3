//! Profile photos (issue 13): upload at `/settings/photo`, served at a versioned URL.

pub mod model;
pub mod picture;
