//! Faults against a real `cuppa serve` process: a server killed during writes, a database that
//! goes away during reads, a SIGTERM during a load, and clients that trickle their headers.

#[path = "../common/served.rs"]
mod served;
#[path = "../common/db.rs"]
mod test_db;
