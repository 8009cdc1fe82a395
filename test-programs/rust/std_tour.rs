//! A Rust std program (static, crt-static): arguments, collections (HashMap
//! with its randomly seeded hasher, printed in sorted order), float
//! formatting, file I/O in /tmp, and a panic caught with catch_unwind (the
//! unwinder reads the binary's own .eh_frame).

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("args: {args:?}");

    let text = "the quick brown fox jumps over the lazy dog the end";
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_default() += 1;
    }
    let sorted: BTreeMap<_, _> = counts.into_iter().collect();
    println!("words: {sorted:?}");

    let values = [0.1f64, 1.0 / 3.0, 1e300, f64::MIN_POSITIVE, -2.5];
    for v in values {
        println!("{v} {v:e} {v:.3} {}", v.sqrt());
    }

    let path = format!("/tmp/lockstep-std-tour-{}", std::process::id());
    let mut f = std::fs::File::create(&path).expect("create");
    for i in 0..100 {
        writeln!(f, "{i:03}").expect("write");
    }
    drop(f);
    let mut back = String::new();
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_to_string(&mut back))
        .expect("read");
    std::fs::remove_file(&path).expect("remove");
    println!("file: {} bytes, {} lines", back.len(), back.lines().count());

    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(|| {
        let v: Vec<u8> = Vec::new();
        v[args.len() + 1]
    });
    println!("panic caught: {}", caught.is_err());
    std::process::exit(if args.is_empty() { 0 } else { 3 });
}
