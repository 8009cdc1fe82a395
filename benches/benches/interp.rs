//! Interpreter throughput: each C workload of `guest/` run through the
//! emu-core API, reported in guest instructions per second
//! (criterion's "elements" are retired guest instructions).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockstep_benches::{GuestRun, Workload};

fn interp(c: &mut Criterion) {
    let mut group = c.benchmark_group("interp");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for workload in Workload::ALL {
        let n = workload.bench_n();
        let mut run = match GuestRun::new(workload).and_then(|mut run| run.run(n).map(|r| (run, r)))
        {
            Ok((run, first)) => {
                group.throughput(Throughput::Elements(first.instructions));
                run
            }
            Err(err) => {
                eprintln!("interp/{workload}: skipped: {err}");
                continue;
            }
        };
        group.bench_function(workload.name(), |b| {
            b.iter(|| {
                run.run(std::hint::black_box(n))
                    .map(|r| r.checksum)
                    .unwrap_or_default()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, interp);
criterion_main!(benches);
