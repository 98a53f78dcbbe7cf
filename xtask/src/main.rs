//! turnkit's automation, run as `cargo xtask <command>`.

fn main() {
    eprintln!("usage: cargo xtask <ci|bench|snapshots>");
}
