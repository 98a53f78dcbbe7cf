//! SSE decoding benchmarks (written in a later commit).

fn main() {}
