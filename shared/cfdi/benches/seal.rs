//! (placeholder until the seal benchmark lands)
fn main() {}
