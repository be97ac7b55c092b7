//! Prints the import cycles of a crate's `src/` (default: the library's, crates/xenpci-core/src),
//! level by level, each with one place per edge, then its top-level module graph (each module
//! and the top-level modules it uses): `cargo run -p xenpci-testkit --example modgraph [SRC]`.

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
            let deps = match xenpci_testkit::modgraph::deps(&src) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("modgraph: reading {}: {e}", src.display());
                    return std::process::ExitCode::from(2);
                }
            };
            let mut top: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
                Default::default();
            for m in xenpci_testkit::modgraph::modules(&src)
                .unwrap_or_default()
                .keys()
            {
                if let Some(first) = m.first() {
                    top.entry(first.clone()).or_default();
                }
            }
            for d in &deps {
                let (Some(from), Some(to)) = (d.from.first(), d.to.first()) else {
                    continue;
                };
                let uses = top.entry(from.clone()).or_default();
                if from != to {
                    uses.insert(to.clone());
                }
            }
            println!("top-level module graph ({} modules):", top.len());
            for (m, uses) in &top {
                let uses: Vec<&str> = uses.iter().map(String::as_str).collect();
                println!("  {m} -> {}", uses.join(" "));
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("modgraph: reading {}: {e}", src.display());
            std::process::ExitCode::from(2)
        }
    }
}
