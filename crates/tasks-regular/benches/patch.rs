//! Placeholder; the patch benchmark follows.

fn main() {}
