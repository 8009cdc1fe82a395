//! difftest (WIP)
#![allow(dead_code)]
mod forms;
mod gen;
mod native;
mod special;
mod state;
fn main() {}
