//! Rebuild when translations change: the Fluent files are compiled into the binary by a macro
//! that cargo cannot see reading them.
fn main() {
    println!("cargo:rerun-if-changed=templates/locales");
}
