//! Picks the candle device: CPU by default, CUDA or Metal when compiled in and asked for.

use candle_core::Device;

/// The devices this build can use, CPU first.
pub fn available() -> Vec<&'static str> {
    let mut names = vec!["cpu"];
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    if cfg!(feature = "metal") {
        names.push("metal");
    }
    names
}

/// Opens the named device; `cuda` and `metal` fail with a sentence when not compiled in.
pub fn open(name: &str) -> crate::ml::Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if cfg!(feature = "cuda") => Ok(Device::new_cuda(0)?),
        "metal" if cfg!(feature = "metal") => Ok(Device::new_metal(0)?),
        other => Err(crate::ml::Error::Input(format!(
            "device '{other}' is not available in this build; choose one of: {}",
            available().join(", ")
        ))),
    }
}
