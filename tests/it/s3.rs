//! Starts one S3-compatible server per test binary, on a free loopback port.
//!
//! The server is moto (from PyPI) run by `infra/local/moto_atomic.py`, which serialises
//! mutating requests so that `If-None-Match: *` is atomic under races as on AWS S3 (moto alone
//! checks and writes in two steps; see docs/format.md). moto is imported by the system
//! `python3`, or installed into `target/s3-venv` on first use. The server dies with the tests: it
//! is started by a shell that kills it when our end of its stdin pipe closes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use strata_storage::Store;
use ulid::Ulid;

pub(crate) const BUCKET: &str = "strata-test";
const ACCESS_KEY: &str = "strata";
const SECRET_KEY: &str = "strata-secret";
const REGION: &str = "us-east-1";

pub(crate) struct S3Server {
    pub(crate) endpoint: String,
    _child: Option<Mutex<Child>>,
}

fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// A Python interpreter that can import moto's server, installing moto into
/// `target/s3-venv` when the system Python cannot.
fn moto_python() -> PathBuf {
    let can_import = |python: &std::path::Path| {
        Command::new(python)
            .args([
                "-c",
                "import moto.moto_server.werkzeug_app, werkzeug.serving",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let system = PathBuf::from("python3");
    if can_import(&system) {
        return system;
    }
    let venv = target_dir().join("s3-venv");
    let python = venv.join("bin/python");
    if !can_import(&python) {
        eprintln!("installing moto[server] into {}", venv.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "moto[server]>=5,<6"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "could not install moto[server]: install it with `pip install 'moto[server]'`"
        );
    }
    python
}

/// moto's server behind the launcher that makes its conditional writes atomic
/// (`infra/local/moto_atomic.py`: moto checks `If-None-Match` and writes without a lock).
fn moto_launcher() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("infra/local/moto_atomic.py")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

fn http(endpoint: &str, request: &str) -> std::io::Result<String> {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn start() -> S3Server {
    if let Ok(endpoint) = std::env::var("STRATA_TEST_S3_ENDPOINT") {
        return S3Server {
            endpoint,
            _child: None,
        };
    }
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let script = format!(
        "'{}' '{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
        moto_python().display(),
        moto_launcher().display()
    );
    let child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .expect("cannot start moto_server");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let created = http(
        &endpoint,
        &format!("PUT /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    )
    .expect("cannot create the test bucket");
    assert!(
        created.starts_with("HTTP/1.1 200"),
        "creating bucket: {created}"
    );
    S3Server {
        endpoint,
        _child: Some(Mutex::new(child)),
    }
}

pub(crate) fn server() -> &'static S3Server {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER.get_or_init(start)
}

/// A fresh, empty prefix of the test bucket: `s3://strata-test/<ulid>`.
pub(crate) fn fresh_url() -> String {
    format!("s3://{BUCKET}/{}", Ulid::new())
}

/// The S3 settings of the test server, as object_store config keys.
pub(crate) fn config() -> Vec<(&'static str, String)> {
    vec![
        ("aws_endpoint", server().endpoint.clone()),
        ("aws_allow_http", "true".into()),
        ("aws_access_key_id", ACCESS_KEY.into()),
        ("aws_secret_access_key", SECRET_KEY.into()),
        ("aws_region", REGION.into()),
    ]
}

/// The same settings as the environment of a `strata` process.
pub(crate) fn env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", server().endpoint.clone()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ("AWS_REGION", REGION.into()),
    ]
}

/// Opens a store at `url` on the test server.
pub(crate) fn open(url: &str) -> Store {
    let config = config();
    let pairs: Vec<(&str, &str)> = config.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Store::open_with(url, &pairs).expect("open test store")
}

/// A fresh store on the test server.
pub(crate) fn fresh_store() -> Store {
    open(&fresh_url())
}
