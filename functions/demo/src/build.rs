//! Building the template's functions with the demo's cargo profile.
//!
//! `up` can build functions itself, but only in the dev profile and one at a time. The
//! demo builds every function binary that exists in the workspace in ONE cargo
//! invocation (cargo parallelises crates, and a release demo gets release functions),
//! then hands the executables to `up` as `prebuilt`. A function whose binary is not in
//! the workspace yet (another engineer is still writing it) or does not compile is
//! reported as missing instead of failing the demo: the summary lists it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use shardwise_emulator::up::cargo_command;

/// Which cargo profile the functions are built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// `cargo build` (fast to build, slower to run).
    Dev,
    /// `cargo build --release`.
    Release,
}

impl Profile {
    /// The profile the running binary was built with (a release demo runs release
    /// functions).
    pub fn of_this_build() -> Self {
        if cfg!(debug_assertions) {
            Self::Dev
        } else {
            Self::Release
        }
    }
}

/// The outcome of building: executables by binary name, and why the others are missing.
#[derive(Debug, Default)]
pub struct Built {
    /// Binary name → executable.
    pub executables: BTreeMap<String, PathBuf>,
    /// Binary name → why it is not available.
    pub missing: BTreeMap<String, String>,
}

/// Binary targets of the workspace's packages (`cargo metadata --no-deps`).
pub fn workspace_binaries(dir: &Path) -> Result<BTreeSet<String>, String> {
    let out = cargo_command()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata output: {e}"))?;
    let mut bins = BTreeSet::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bin = target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"));
            if let (true, Some(name)) = (is_bin, target["name"].as_str()) {
                bins.insert(name.to_owned());
            }
        }
    }
    Ok(bins)
}

/// Builds `binaries` in `dir` with `profile`; returns what was built and what is missing.
pub async fn build_functions(dir: &Path, binaries: &[String], profile: Profile) -> Built {
    let mut built = Built::default();
    let available = match workspace_binaries(dir) {
        Ok(b) => b,
        Err(e) => {
            for b in binaries {
                built.missing.insert(b.clone(), e.clone());
            }
            return built;
        }
    };
    let (present, absent): (Vec<&String>, Vec<&String>) =
        binaries.iter().partition(|b| available.contains(*b));
    for b in absent {
        built
            .missing
            .insert(b.clone(), "no such binary in the workspace yet".to_owned());
    }
    if present.is_empty() {
        return built;
    }
    // One invocation for all; if any crate fails to compile, retry one by one so the
    // others still run.
    match cargo_build(dir, &present, profile).await {
        Ok(found) => merge(&mut built, &present, found),
        Err(_) => {
            for b in present {
                match cargo_build(dir, &[b], profile).await {
                    Ok(found) => merge(&mut built, &[b], found),
                    Err(why) => {
                        built.missing.insert(b.clone(), why);
                    }
                }
            }
        }
    }
    built
}

fn merge(built: &mut Built, wanted: &[&String], mut found: BTreeMap<String, PathBuf>) {
    for b in wanted {
        match found.remove(b.as_str()) {
            Some(path) => {
                built.executables.insert((*b).clone(), path);
            }
            None => {
                built
                    .missing
                    .insert((*b).clone(), "cargo reported no executable".to_owned());
            }
        }
    }
}

async fn cargo_build(
    dir: &Path,
    binaries: &[&String],
    profile: Profile,
) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut command = tokio::process::Command::from(cargo_command());
    command.args([
        "build",
        "--workspace",
        "--message-format=json-render-diagnostics",
    ]);
    if profile == Profile::Release {
        command.arg("--release");
    }
    for b in binaries {
        command.args(["--bin", b.as_str()]);
    }
    // Cargo's progress and diagnostics go to our stderr: a first build takes minutes
    // and the user should see that something happens.
    command
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let output = command
        .output()
        .await
        .map_err(|e| format!("cannot run cargo in {}: {e}", dir.display()))?;
    if !output.status.success() {
        return Err(format!("cargo build failed ({})", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let name = m["target"]["name"].as_str()?.to_owned();
            let exe = m["executable"].as_str()?;
            Some((name, PathBuf::from(exe)))
        })
        .collect())
}
