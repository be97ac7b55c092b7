//! Prints the import cycles of a library's `src/` (default: the library's, crates/xenpci-core/src), level by level,
//! each with one place per edge: `cargo run -p xenpci-testkit --example modgraph [SRC]`.

fn main() -> std::process::ExitCode {
    let src = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| xenpci_testkit::bins::workspace_root().join("crates/xenpci-core/src"));
    match xenpci_testkit::modgraph::cycles(&src) {
        Ok(cycles) => {
            println!("{} import cycle(s) in {}", cycles.len(), src.display());
            for c in &cycles {
                println!("{c}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("modgraph: reading {}: {e}", src.display());
            std::process::ExitCode::from(2)
        }
    }
}
