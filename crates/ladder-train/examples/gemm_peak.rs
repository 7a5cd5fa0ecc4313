//! Prints the measured fp32 GEMM peak used as MFU's denominator, for 1 and 2 threads.
//! `cargo run --release -p ladder-train --example gemm_peak`
fn main() {
    for threads in [1, 2] {
        let pool = ladder_train::perf::thread_pool(threads).expect("pool");
        let g = pool.install(ladder_train::perf::measured_peak_gflops);
        println!("{threads} threads: {g:.1} GFLOP/s");
    }
}
