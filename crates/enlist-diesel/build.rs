//! `embed_migrations!` does not notice changes to SQL files by itself.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
