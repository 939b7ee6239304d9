//! Generates the tonic code for `proto/cortex.proto` with a vendored `protoc`,
//! so building needs nothing installed beyond cargo.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    println!("cargo:rerun-if-changed=proto/cortex.proto");
    tonic_prost_build::configure().compile_protos(&["proto/cortex.proto"], &["proto"])?;
    Ok(())
}
