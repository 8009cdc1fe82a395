//! Raw iced-x86 decode speed over the workloads' code: the cost the decode
//! cache saves on every cache hit (compare with `interp`).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iced_x86::{Decoder, DecoderOptions};
use lockstep_benches::elf::{ElfImage, PF_X};
use lockstep_benches::Workload;

fn decode(c: &mut Criterion) {
    let mut code = Vec::new();
    for workload in Workload::ALL {
        let Ok(elf) = ElfImage::parse(workload.image()) else {
            continue;
        };
        for seg in elf.segments.iter().filter(|s| s.flags & PF_X != 0) {
            code.extend_from_slice(seg.data);
        }
    }
    let count = Decoder::new(64, &code, DecoderOptions::NONE).iter().count() as u64;
    let mut group = c.benchmark_group("decode");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(count));
    group.bench_function("iced_workload_text", |b| {
        b.iter(|| {
            let mut decoder = Decoder::new(64, std::hint::black_box(&code), DecoderOptions::NONE);
            let mut insn = iced_x86::Instruction::default();
            let mut sum = 0u64;
            while decoder.can_decode() {
                decoder.decode_out(&mut insn);
                sum = sum.wrapping_add(insn.len() as u64);
            }
            sum
        });
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
