//! `xenpci-fixture`: writes a fixture host root, for the benchmark scripts and for trying
//! xenpci on a shape the demo does not bundle (`big-N`). Dev-only: built in the workspace,
//! never packaged.
//!
//! ```text
//! xenpci-fixture write SHAPE DIR    # DIR: new or empty
//! xenpci-fixture shapes             # the names SHAPE can be
//! ```

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xenpci-fixture: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    match args {
        [cmd] if cmd == "shapes" => {
            println!("{}", xenpci_fixtures::SHAPES.join("\n"));
            Ok(())
        }
        [cmd, shape, dir] if cmd == "write" => {
            let fx = xenpci_fixtures::shape(shape).ok_or_else(|| {
                format!(
                    "unknown shape {shape:?} (expected one of: {})",
                    xenpci_fixtures::SHAPES.join(", ")
                )
            })?;
            let dir = Path::new(dir);
            if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
                return Err(format!(
                    "{} is not empty; give a new or empty directory",
                    dir.display()
                ));
            }
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            fx.write(dir)
                .map_err(|e| format!("writing the {shape} host into {}: {e}", dir.display()))?;
            println!("wrote the {shape} host root to {}", dir.display());
            Ok(())
        }
        _ => Err("usage: xenpci-fixture write SHAPE DIR | xenpci-fixture shapes".into()),
    }
}
