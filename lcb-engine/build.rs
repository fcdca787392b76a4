//! With the `cuda` feature, compiles `kernels/*.cu` to PTX with nvcc (for the architecture in
//! `CUDA_COMPUTE_CAP`, default 90 = H100/H200); the engine loads the PTX at run time. Plain
//! builds need no CUDA and do nothing here.

use std::path::PathBuf;
use std::process::Command;

/// The kernels under `kernels/`, one PTX module each.
const KERNELS: &[&str] = &["suffix_attention"];

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
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "90".into());
    for kernel in KERNELS {
        let src = format!("kernels/{kernel}.cu");
        let ptx = out.join(format!("{kernel}.ptx"));
        let status = Command::new(&nvcc)
            .args(["--ptx", "-O3", "-std=c++17"])
            .arg(format!("-arch=compute_{cap}"))
            .arg(&src)
            .arg("-o")
            .arg(&ptx)
            .status()
            .unwrap_or_else(|e| panic!("cannot run nvcc (`{nvcc}`) for {src}: {e}; source ../shared/tools/cuda-toolchain.sh first"));
        assert!(status.success(), "nvcc failed on {src}");
    }
}
