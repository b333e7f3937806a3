//! The embedded default database: a private PostgreSQL cluster under the data directory, made
//! with the machine's own `initdb` and run with `pg_ctl`, listening on a Unix socket only.
//!
//! PostgreSQL refuses to run as root, so when Cuppa runs as root the cluster belongs to the
//! `postgres` user (which the server packages create) and every PostgreSQL program is started
//! as that user.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sqlx::postgres::PgConnectOptions;

/// The port only names the socket file; nothing listens on TCP.
const PORT: u16 = 5432;
/// `sockaddr_un` holds 107 bytes; a longer socket path cannot be bound.
const MAX_SOCKET_PATH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found: install them (Debian: apt-get install postgresql) or set DATABASE_URL"
    )]
    BinariesMissing,
    #[error(
        "{0} is not reachable by the postgres user, which runs the embedded database when Cuppa runs as root: choose another --data-dir or set DATABASE_URL"
    )]
    Unreachable(PathBuf),
    #[error("Cuppa runs as root but there is no postgres user to run PostgreSQL as: set DATABASE_URL")]
    NoPostgresUser,
    #[error("{program} failed: {detail}")]
    Command { program: String, detail: String },
    #[error("could not prepare {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A running (or adopted) cluster. Dropping it stops the server if this value started it.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    run_as: Option<(u32, u32)>,
    started_here: bool,
}

impl EmbeddedPostgres {
    /// Creates the cluster under `data_dir` unless it exists, then starts it unless it runs
    /// already (a server left by an earlier run is adopted, and left running at the end).
    /// `settings` are extra `name=value` server settings for this start.
    pub fn start(data_dir: &Path, settings: &[&str]) -> Result<Self, EmbeddedError> {
        let bin_dir = find_bin_dir().ok_or(EmbeddedError::BinariesMissing)?;
        let run_as =
            if effective_uid_is_root() { Some(postgres_user().ok_or(EmbeddedError::NoPostgresUser)?) } else { None };
        fs::create_dir_all(data_dir).map_err(|e| io_error(data_dir, e))?;
        let data_dir = fs::canonicalize(data_dir).map_err(|e| io_error(data_dir, e))?;
        let pgdata = data_dir.join("postgres");
        let log_file = data_dir.join("postgres.log");
        let socket_dir = socket_dir_for(&data_dir);
        let mut pg = EmbeddedPostgres { bin_dir, pgdata, socket_dir, log_file, run_as, started_here: false };
        pg.prepare_paths()?;
        if !pg.pgdata.join("PG_VERSION").exists() {
            pg.initdb()?;
        }
        if !pg.is_running() {
            pg.pg_ctl_start(settings)?;
            pg.started_here = true;
        }
        Ok(pg)
    }

    /// Options for connecting to `database` over the socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .host(&self.socket_dir.to_string_lossy())
            .port(PORT)
            .username("postgres")
            .database(database)
    }

    /// A URL for the same, for people and tools such as `psql`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@localhost:{PORT}/{database}?host={}", self.socket_dir.display())
    }

    pub fn is_running(&self) -> bool {
        // pg_ctl status: 0 running, 3 not running, 4 no usable data directory.
        self.command("pg_ctl").arg("status").arg("-D").arg(&self.pgdata).output().is_ok_and(|out| out.status.success())
    }

    /// Stops the server if this value started it; a fast shutdown that still writes a clean
    /// checkpoint, so the next start needs no recovery.
    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        if !self.started_here {
            return Ok(());
        }
        self.started_here = false;
        if !self.is_running() {
            return Ok(());
        }
        let out = self.command("pg_ctl").args(["stop", "-m", "fast", "-w", "-D"]).arg(&self.pgdata).output();
        check("pg_ctl stop", out)
    }

    fn prepare_paths(&self) -> Result<(), EmbeddedError> {
        for dir in [&self.pgdata, &self.socket_dir] {
            fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
            // initdb insists on a data directory only its owner can read.
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io_error(dir, e))?;
        }
        if !self.log_file.exists() {
            fs::write(&self.log_file, b"").map_err(|e| io_error(&self.log_file, e))?;
        }
        if let Some((uid, gid)) = self.run_as {
            for path in [&self.pgdata, &self.socket_dir, &self.log_file] {
                chown(path, Some(uid), Some(gid)).map_err(|e| io_error(path, e))?;
            }
            // Every folder above the cluster must be searchable by the postgres user too.
            let reachable = self.command("test").arg("-w").arg(&self.pgdata).status().is_ok_and(|s| s.success());
            if !reachable {
                return Err(EmbeddedError::Unreachable(self.pgdata.clone()));
            }
        }
        Ok(())
    }

    fn initdb(&self) -> Result<(), EmbeddedError> {
        let out = self
            .command("initdb")
            .args(["--username=postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "-D"])
            .arg(&self.pgdata)
            .output();
        check("initdb", out)
    }

    fn pg_ctl_start(&self, settings: &[&str]) -> Result<(), EmbeddedError> {
        // listen_addresses='' turns TCP off: the socket, in a folder only the owner can enter,
        // is the only way in, which is what makes trust authentication safe here.
        let mut options =
            format!("-c listen_addresses='' -c unix_socket_directories='{}' -p {PORT}", self.socket_dir.display());
        for setting in settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let out = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&self.pgdata)
            .arg("-l")
            .arg(&self.log_file)
            .arg("-o")
            .arg(options)
            // Its own process group: Ctrl-C in a terminal reaches Cuppa, which then stops the
            // server in order, instead of reaching the server directly.
            .process_group(0)
            .output();
        check("pg_ctl start", out).map_err(|err| match err {
            EmbeddedError::Command { program, detail } => {
                EmbeddedError::Command { program, detail: format!("{detail}\n{}", log_tail(&self.log_file)) }
            }
            other => other,
        })
    }

    fn command(&self, program: &str) -> Command {
        let path = if program == "test" { PathBuf::from("test") } else { self.bin_dir.join(program) };
        let mut cmd = Command::new(path);
        // The postgres user may not be allowed into the caller's working directory.
        cmd.current_dir("/");
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
            cmd.env("HOME", &self.pgdata);
        }
        cmd
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            tracing::warn!(error = %err, "could not stop the embedded database");
        }
    }
}

fn check(program: &str, out: std::io::Result<Output>) -> Result<(), EmbeddedError> {
    match out {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(EmbeddedError::Command {
            program: program.to_owned(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        }),
        Err(err) => Err(EmbeddedError::Command { program: program.to_owned(), detail: err.to_string() }),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> EmbeddedError {
    EmbeddedError::Io { path: path.to_owned(), source }
}

fn log_tail(log_file: &Path) -> String {
    let text = fs::read_to_string(log_file).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// The socket lives beside the cluster unless that path is too long for a socket address, in
/// which case it goes to a folder under the system's temporary directory named for the cluster.
fn socket_dir_for(data_dir: &Path) -> PathBuf {
    let beside = data_dir.join("run");
    if beside.join(".s.PGSQL.5432").as_os_str().len() <= MAX_SOCKET_PATH {
        return beside;
    }
    let digest = data_dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    std::env::temp_dir().join(format!("cuppa-{digest:016x}"))
}

/// `initdb` on the PATH, else the newest of Debian's `/usr/lib/postgresql/<version>/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    find_bin_dir_in(std::env::var_os("PATH").as_deref(), Path::new("/usr/lib/postgresql"))
}

fn find_bin_dir_in(path_var: Option<&OsStr>, versions_root: &Path) -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = path_var
        && let Some(dir) = std::env::split_paths(path).find(|d| has_tools(d))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir(versions_root)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn effective_uid_is_root() -> bool {
    id_of(["-u"]) == Some(0)
}

fn postgres_user() -> Option<(u32, u32)> {
    Some((id_of(["-u", "postgres"])?, id_of(["-g", "postgres"])?))
}

fn id_of<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Option<u32> {
    let out = Command::new("id").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("initdb"), b"").unwrap();
        fs::write(dir.join("pg_ctl"), b"").unwrap();
    }

    #[test]
    fn the_path_wins_then_the_newest_debian_version() {
        let root = std::env::temp_dir().join(format!("cuppa-find-bin-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let debian = root.join("lib");
        fake_bin(&debian.join("9/bin"));
        fake_bin(&debian.join("16/bin"));
        fs::create_dir_all(debian.join("17/bin")).unwrap(); // a client-only install
        assert_eq!(find_bin_dir_in(None, &debian), Some(debian.join("16/bin")));
        fake_bin(&root.join("path"));
        let path = std::env::join_paths([root.join("empty"), root.join("path")]).unwrap();
        assert_eq!(find_bin_dir_in(Some(&path), &debian), Some(root.join("path")));
        assert_eq!(find_bin_dir_in(Some(OsStr::new("")), &root.join("missing")), None);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_binaries_are_explained_in_one_line() {
        let message = EmbeddedError::BinariesMissing.to_string();
        assert!(!message.contains('\n'));
        assert!(message.contains("apt-get install postgresql") && message.contains("DATABASE_URL"));
    }

    #[test]
    fn a_socket_path_too_long_for_the_kernel_moves_to_the_temp_dir() {
        let short = Path::new("/srv/cuppa");
        assert_eq!(socket_dir_for(short), short.join("run"));
        let long = PathBuf::from(format!("/srv/{}", "deep/".repeat(30)));
        let moved = socket_dir_for(&long);
        assert!(moved.starts_with(std::env::temp_dir()));
        assert_eq!(moved, socket_dir_for(&long), "the same cluster always gets the same folder");
    }
}
