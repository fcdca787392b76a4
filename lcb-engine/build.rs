//! With the `cuda` feature, compiles `kernels/*.cu` to PTX with nvcc; the engine loads the
//! PTX at run time, where the driver compiles it for the GPU at hand.
//!
//! The PTX targets compute capability `CUDA_COMPUTE_CAP` (default 8.0, the oldest
//! architecture lcb supports): PTX runs on its own architecture and every newer one, so a
//! build for 8.0 serves A100 (8.0), RTX 30xx / A10 (8.6), RTX 4090 / L40S (8.9) and H100 /
//! H200 (9.0). So that no GPU finds out at run time that a kernel does not compile for it,
//! the build assembles the PTX with `ptxas` for each of those architectures it targets and
//! fails if any refuses it (and warns about the ones a newer target leaves out). Plain
//! builds need no CUDA and do nothing here.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The kernels under `kernels/`, one PTX module each.
const KERNELS: &[&str] = &[
    "suffix_attention",
    "prompt_attention",
    "sample_rows",
    "fused",
];

/// The architectures every kernel must assemble for (A100, RTX 30xx/A10, RTX 4090/L40S,
/// H100/H200).
const CHECKED_ARCHITECTURES: &[&str] = &["sm_80", "sm_86", "sm_89", "sm_90"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=kernels");
    println!("cargo:rerun-if-env-changed=NVCC");
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let nvcc = std::env::var("NVCC").unwrap_or_else(|_| "nvcc".into());
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "80".into());
    for kernel in KERNELS {
        let src = format!("kernels/{kernel}.cu");
        let ptx = out.join(format!("{kernel}.ptx"));
        run(
            Command::new(&nvcc)
                .args(["--ptx", "-O3", "-std=c++17"])
                .arg(format!("-arch=compute_{cap}"))
                .arg(&src)
                .arg("-o")
                .arg(&ptx),
            &format!("nvcc (`{nvcc}`) on {src}"),
        );
        // PTX for a newer architecture cannot run on an older one: check those it can.
        let target: u32 = cap.parse().unwrap_or(0);
        let mut skipped = Vec::new();
        for arch in CHECKED_ARCHITECTURES {
            let number: u32 = arch.trim_start_matches("sm_").parse().expect("sm_NN");
            if number >= target {
                check_assembles(&nvcc, &ptx, arch, &out);
            } else {
                skipped.push(*arch);
            }
        }
        if !skipped.is_empty() {
            println!(
                "cargo:warning=lcb's kernels are built for compute capability {cap} and will not \
                 run on {} GPUs; CUDA_COMPUTE_CAP=80 builds for all of them (candle's kernels \
                 read it too)",
                skipped.join(", ")
            );
        }
    }
}

/// Assembles `ptx` for `arch` with the `ptxas` beside `nvcc`, into a scratch file.
fn check_assembles(nvcc: &str, ptx: &Path, arch: &str, out: &Path) {
    let ptxas = Path::new(nvcc)
        .parent()
        .map(|dir| dir.join("ptxas"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("ptxas"));
    let cubin = out.join(format!("check-{arch}.cubin"));
    run(
        Command::new(&ptxas)
            .arg(format!("-arch={arch}"))
            .arg(ptx)
            .arg("-o")
            .arg(&cubin),
        &format!("ptxas for {arch} on {}", ptx.display()),
    );
}

fn run(command: &mut Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| {
        panic!("cannot run {what}: {e}; source ../shared/tools/cuda-toolchain.sh first")
    });
    assert!(status.success(), "{what} failed");
}
