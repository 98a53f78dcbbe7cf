//! Lifecycle benchmarks (filled in below).
fn main() {}
