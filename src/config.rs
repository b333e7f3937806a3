//! Settings from the command line, with environment fallbacks (a `.env` file is honoured by
//! `main` before parsing). Every default lives here, in the clap attributes.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Where the database is and how the web server listens.
#[derive(Args, Clone)]
pub struct Config {
    /// PostgreSQL URL. When unset, Cuppa runs its own cluster under the data directory.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Folder for the embedded database (and anything else Cuppa keeps on disk).
    #[arg(long, env = "CUPPA_DATA_DIR", default_value = ".cuppa", global = true)]
    pub data_dir: PathBuf,

    /// Address the web server listens on.
    #[arg(long, env = "CUPPA_LISTEN", default_value = "127.0.0.1:8080", global = true)]
    pub listen: SocketAddr,

    /// Mark the session cookie `Secure`: set this whenever Cuppa is served over https.
    #[arg(long, env = "CUPPA_SECURE_COOKIES", global = true)]
    pub secure_cookies: bool,
}

// The database URL may carry a password: keep it out of logs.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url.as_ref().map(|_| "<redacted>"))
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("secure_cookies", &self.secure_cookies)
            .finish()
    }
}
