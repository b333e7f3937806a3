//! Rebuild when a migration changes: `sqlx::migrate!` embeds the migrations folder, and cargo
//! does not otherwise know to look at it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
