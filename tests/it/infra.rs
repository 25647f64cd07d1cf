//! The deployment files, checked offline as CI can: the Terraform module and example with
//! `terraform fmt`, checkov's policies and the module's invariants evaluated by tfparse
//! (`infra/terraform/check.sh`, in a virtualenv under `target/` that this test creates), and
//! the local MinIO stack with Debian's `docker-compose config` (`infra/local/check.sh`), and
//! the Kubernetes manifests with checkov's kubernetes framework and `kubectl kustomize`
//! (`infra/kubernetes/check.sh`), their scrape configuration with Strata's own loader.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A Python with checkov, tfparse and pytest: `target/infra-venv`, created when missing
/// (checkov pins old boto3 and networkx, so it stays out of the system Python).
fn infra_python() -> PathBuf {
    let venv = root().join("target/infra-venv");
    let python = venv.join("bin/python");
    let ready = |p: &Path| {
        Command::new(p)
            .args(["-c", "import checkov, tfparse, pytest"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ready(&python) {
        eprintln!(
            "installing checkov, tfparse and pytest into {}",
            venv.display()
        );
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "checkov==3.3.30",
                    "tfparse==0.6.22",
                    "pytest",
                ])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "could not install checkov, tfparse and pytest into {}",
            venv.display()
        );
    }
    python
}

fn run(script: &str, env: &[(&str, &Path)]) -> String {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join(script)).current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("run {script}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    text
}

#[test]
fn terraform_passes_fmt_checkov_and_its_invariants() {
    let python = infra_python();
    let out = run("infra/terraform/check.sh", &[("PYTHON", &python)]);
    assert!(out.contains("checkov: ok (Passed checks: "), "{out}");
    assert!(out.contains("pytest: ok ("), "{out}");
    if which("terraform") {
        assert!(out.contains("terraform fmt: ok"), "{out}");
    }
}

#[test]
fn kubernetes_manifests_pass_their_offline_checks() {
    let python = infra_python();
    let out = run("infra/kubernetes/check.sh", &[("PYTHON", &python)]);
    assert!(out.contains("checkov: ok (Passed checks: "), "{out}");
}

/// The workers' configuration in the ConfigMap is one Strata's strict loader accepts.
#[test]
fn kubernetes_configmap_is_a_valid_strata_configuration() {
    let text = std::fs::read_to_string(root().join("infra/kubernetes/configmap.yaml")).unwrap();
    let map: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let config = map["data"]["prometheus.yml"]
        .as_str()
        .expect("data.prometheus.yml");
    let parsed = strata_ingest::scrape::Config::parse(config).unwrap();
    let roles: Vec<&str> = parsed
        .scrape_configs
        .iter()
        .flat_map(|j| j.kubernetes_sd_configs.iter().map(|k| k.role.as_str()))
        .collect();
    assert!(
        roles.contains(&"pod") && roles.contains(&"endpointslice"),
        "{roles:?}"
    );
}

#[test]
fn local_stack_is_a_valid_compose_file() {
    assert!(
        which("docker-compose"),
        "docker-compose not found: install Debian's `docker-compose` package (.ci/run does)"
    );
    let out = run("infra/local/check.sh", &[]);
    assert!(out.contains("valid (docker-compose config)"), "{out}");
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}
