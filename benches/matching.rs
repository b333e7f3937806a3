//! Times the matching solver on the deterministic Barabási–Albert benchmark graphs (average
//! degree 12, weights 1..=100), as they are and with the weights a round gives them (the most
//! pairs first, `cardinality_first`): `cargo bench --bench matching`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use cuppa::scheduler::matching::{barabasi_albert, cardinality_first, max_weight_matching};

fn matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("max_weight_matching");
    // The large graph takes most of a second a run: ten samples, with time enough for them.
    for (n, samples, seconds) in [(10_000, 20, 5), (100_000, 10, 20)] {
        let edges = barabasi_albert(n, 6, 1);
        group.sample_size(samples).measurement_time(Duration::from_secs(seconds));
        group.bench_function(format!("ba_{n}"), |b| b.iter(|| max_weight_matching(n, black_box(&edges))));
        let (_, lifted) = cardinality_first(n, &edges).expect("weights up to 100");
        group.bench_function(format!("ba_{n}_pairs_first"), |b| b.iter(|| max_weight_matching(n, black_box(&lifted))));
    }
    group.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
