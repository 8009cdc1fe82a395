//! difftest (WIP)
mod native;
mod state;
fn main() {}
