//! `sealpost keygen`: fresh random keys for a production set-up, as environment lines.

use secrecy::ExposeSecret;

use sealpost::seal;

pub fn run() {
    for name in [
        "SEALPOST__SEAL__KEY",
        "SEALPOST__SEAL__INDEX_KEY",
        "SEALPOST__AUDIT__SIGNING_KEY",
    ] {
        println!("{name}={}", seal::generate_key().expose_secret());
    }
}
