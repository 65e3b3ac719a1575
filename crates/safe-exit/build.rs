//! Short names for groups of targets, for the `cfg` attributes under `src/sys/unix/`:
//! `apple` (macOS, iOS, tvOS, watchOS, visionOS) and `kqueue` (those and the BSDs, which have
//! `EVFILT_PROC`).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(apple, kqueue)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let apple = matches!(
        os.as_str(),
        "macos" | "ios" | "tvos" | "watchos" | "visionos"
    );
    let bsd = matches!(os.as_str(), "freebsd" | "dragonfly" | "openbsd" | "netbsd");
    if apple {
        println!("cargo::rustc-cfg=apple");
    }
    if apple || bsd {
        println!("cargo::rustc-cfg=kqueue");
    }
}
