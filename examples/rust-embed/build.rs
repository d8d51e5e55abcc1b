// Link libnepnet statically, with OpenSSL's libcrypto (3.5 or later, static) after it.
//
// (relative paths are taken from this directory, where cargo runs build scripts)
//
//   NEPNET_BUILD_DIR    directory with libnepnet.a (default: ../../build/release, i.e. the
//                       repository's build/release)
//   NEPNET_OPENSSL_LIB  directory with libcrypto.a (default: ../../build/deps/openssl/lib, where
//                       ./bootstrap builds OpenSSL 3.5)
//   NEPNET_OPENSSL_DYNAMIC=1  link libcrypto.so from NEPNET_OPENSSL_LIB instead (only for a
//                       system whose own libcrypto is 3.5 or later; Debian 12's is 3.0 under
//                       the same soname, so never there)
//   NEPNET_SECP256K1_LIB directory with libsecp256k1.a (default: ../../build/deps/secp256k1/lib,
//                       where ./bootstrap builds it on Debian 12); without one there, the
//                       system's libsecp256k1 (Debian 13: 0.5, with ElligatorSwift)
//   NEPNET_PKG_CONFIG=1 link the installed shared libnepnet through pkg-config instead (it
//                       carries its OpenSSL; nothing else is needed)
//
// Order matters with static archives: the linker resolves an archive's undefined symbols only
// from what follows it, so nepnet comes before secp256k1 and crypto, and the shared libraries both need
// (libevent, sqlite3, jansson, isal, pthread, dl, m) come last.

use std::env;
use std::path::{Path, PathBuf};

fn dir_from_env(var: &str, default: &str) -> PathBuf {
    println!("cargo:rerun-if-env-changed={var}");
    match env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join(default),
    }
}

/// NEPNET_PKG_CONFIG=1: link the installed libnepnet (the shared library) as `pkg-config --libs
/// nepnet` says, e.g. after `cmake --install` or the libnepnet-dev package (PKG_CONFIG_PATH
/// finds a prefix of one's own).
fn link_with_pkg_config() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let out = std::process::Command::new("pkg-config")
        .args(["--libs", "nepnet"])
        .output()
        .unwrap_or_else(|e| panic!("NEPNET_PKG_CONFIG=1 but pkg-config could not run: {e}"));
    if !out.status.success() {
        panic!(
            "pkg-config --libs nepnet: {} (install libnepnet-dev, or set PKG_CONFIG_PATH to PREFIX/lib/pkgconfig)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    for flag in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn main() {
    println!("cargo:rerun-if-env-changed=NEPNET_PKG_CONFIG");
    if env::var("NEPNET_PKG_CONFIG").map(|v| v == "1").unwrap_or(false) {
        return link_with_pkg_config();
    }
    let nepnet = dir_from_env("NEPNET_BUILD_DIR", "../../build/release");
    let mut ossl = dir_from_env("NEPNET_OPENSSL_LIB", "../../build/deps/openssl/lib");
    println!("cargo:rerun-if-env-changed=NEPNET_OPENSSL_DYNAMIC");
    let dynamic = env::var("NEPNET_OPENSSL_DYNAMIC").map(|v| v == "1").unwrap_or(false);

    let lib = nepnet.join("libnepnet.a");
    if !lib.is_file() {
        panic!(
            "{} not found: build the C library first (cmake --build build/release) or set \
             NEPNET_BUILD_DIR to the directory that holds libnepnet.a",
            lib.display()
        );
    }
    // relink when the C library is rebuilt
    println!("cargo:rerun-if-changed={}", lib.display());

    if !dynamic {
        // OpenSSL may install into lib64
        if !ossl.join("libcrypto.a").is_file() && ossl.with_file_name("lib64").join("libcrypto.a").is_file() {
            ossl = ossl.with_file_name("lib64");
        }
        let crypto = ossl.join("libcrypto.a");
        if !crypto.is_file() {
            panic!(
                "{} not found: set NEPNET_OPENSSL_LIB to the lib directory of OpenSSL 3.5+ \
                 (./bootstrap builds it into build/deps/openssl/lib)",
                crypto.display()
            );
        }
        println!("cargo:rerun-if-changed={}", crypto.display());
    }

    let secp = dir_from_env("NEPNET_SECP256K1_LIB", "../../build/deps/secp256k1/lib");
    let secp_static = secp.join("libsecp256k1.a").is_file();

    println!("cargo:rustc-link-search=native={}", nepnet.display());
    println!("cargo:rustc-link-search=native={}", ossl.display());
    println!("cargo:rustc-link-lib=static=nepnet");
    if secp_static {
        println!("cargo:rerun-if-changed={}", secp.join("libsecp256k1.a").display());
        println!("cargo:rustc-link-search=native={}", secp.display());
        println!("cargo:rustc-link-lib=static=secp256k1");
    } else {
        println!("cargo:rustc-link-lib=dylib=secp256k1");
    }
    if dynamic {
        println!("cargo:rustc-link-lib=dylib=crypto");
    } else {
        println!("cargo:rustc-link-lib=static=crypto");
    }
    for l in ["event", "sqlite3", "jansson", "isal", "pthread", "dl", "m"] {
        println!("cargo:rustc-link-lib=dylib={l}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
