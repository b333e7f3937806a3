//! Settings from the command line, with environment fallbacks (a `.env` file is honoured by
//! `main` before parsing). Every default lives here, in the clap attributes.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::web::Cidr;

/// Where the database is, how the web server listens and how email goes out.
#[derive(Args, Clone)]
pub struct Config {
    /// PostgreSQL URL. When unset, Cuppa runs its own cluster under the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Folder for the embedded database (and anything else Cuppa keeps on disk).
    #[arg(long, env = "CUPPA_DATA_DIR", default_value = ".cuppa", global = true)]
    pub data_dir: PathBuf,

    /// Address the web server listens on.
    #[arg(long, env = "CUPPA_LISTEN", default_value = "127.0.0.1:8080", global = true)]
    pub listen: SocketAddr,

    /// Address to serve Prometheus metrics on, at `/metrics` (off unless set). A listener of
    /// its own, apart from the site, so the figures are never public: keep it on loopback or
    /// a private network that only the monitoring reaches.
    #[arg(long, env = "CUPPA_METRICS_LISTEN", value_name = "ADDRESS", global = true)]
    pub metrics_listen: Option<SocketAddr>,

    /// Mark the session cookie `Secure`: set this whenever Cuppa is served over https.
    #[arg(long, env = "CUPPA_SECURE_COOKIES", global = true)]
    pub secure_cookies: bool,

    /// SMTP server for outgoing email, such as `smtps://user:password@mail.example` or
    /// `smtp://127.0.0.1:25` (plain, for a relay on the same machine). When unset, emails are
    /// written as files into the mail folder instead.
    // `hide_env_values`: `--help` would otherwise print the URL, password and all.
    #[arg(long, env = "CUPPA_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// The sender of Cuppa's emails.
    #[arg(long, env = "CUPPA_MAIL_FROM", default_value = "Cuppa <cuppa@localhost>", global = true)]
    pub mail_from: String,

    /// Where emails are written, one `.eml` file each, when no SMTP server is set
    /// (default: `mail` in the data directory).
    #[arg(long, env = "CUPPA_MAIL_DIR", global = true)]
    pub mail_dir: Option<PathBuf>,

    /// The address members reach Cuppa at, for the links in emails and calendar feeds
    /// (default: http:// and the listening address).
    #[arg(long, env = "CUPPA_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Weeks before the scheduler suggests the same two members to each other again, also
    /// after one of them declined (at least 3, longer than the longest horizon, so one pair
    /// never holds two suggestions at once).
    #[arg(long, env = "CUPPA_COOL_DOWN_WEEKS", default_value_t = 4, global = true,
          value_parser = clap::value_parser!(i32).range(3..=52))]
    pub cool_down_weeks: i32,

    /// The day of the weekly scheduler round (mon, tue, ...), in UTC.
    #[arg(long, env = "CUPPA_ROUND_DAY", default_value = "mon", global = true)]
    pub round_day: chrono::Weekday,

    /// The hour of the weekly scheduler round, 0 to 23, in UTC.
    #[arg(long, env = "CUPPA_ROUND_HOUR", default_value_t = 6, global = true,
          value_parser = clap::value_parser!(u32).range(0..24))]
    pub round_hour: u32,

    /// How many days ahead a round looks for a common free hour (at least 24 hours ahead).
    #[arg(long, env = "CUPPA_HORIZON_DAYS", default_value_t = 14, global = true,
          value_parser = clap::value_parser!(i64).range(2..=21))]
    pub horizon_days: i64,

    /// A reverse proxy's address range (such as `127.0.0.1/32` for one on the same machine),
    /// whose `X-Forwarded-For` header then names the client for the log-in and sign-up
    /// throttles. Repeat for several; the environment variable takes a comma-separated list.
    #[arg(
        long = "trusted-proxy",
        env = "CUPPA_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<Cidr>,
}

impl Config {
    /// The folder emails are written to when there is no SMTP server.
    pub fn mail_dir(&self) -> PathBuf {
        self.mail_dir.clone().unwrap_or_else(|| self.data_dir.join("mail"))
    }

    /// Without a configured address, links point where this server listens, which is right for
    /// a machine of one's own and says plainly where it is otherwise.
    pub fn public_url(&self) -> String {
        let url = self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen));
        url.trim_end_matches('/').to_owned()
    }
}

// The database and SMTP URLs may carry passwords: keep them out of logs.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url.as_ref().map(|_| "<redacted>"))
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("secure_cookies", &self.secure_cookies)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<redacted>"))
            .field("mail_from", &self.mail_from)
            .field("mail_dir", &self.mail_dir)
            .field("public_url", &self.public_url)
            .field("cool_down_weeks", &self.cool_down_weeks)
            .field("round_day", &self.round_day)
            .field("round_hour", &self.round_hour)
            .field("horizon_days", &self.horizon_days)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn debug_output_hides_the_passwords_in_urls() {
        let cli = Cli::parse_from([
            "cuppa",
            "--database-url",
            "postgres://cuppa:secret1@db.example/cuppa",
            "--smtp-url",
            "smtps://cuppa:secret2@mail.example",
            "--data-dir",
            "/var/lib/cuppa",
        ]);
        let shown = format!("{:?}", cli.config);
        assert!(!shown.contains("secret1") && !shown.contains("secret2"), "{shown}");
        assert!(shown.contains("<redacted>"));
        if std::env::var_os("CUPPA_MAIL_DIR").is_none() {
            assert_eq!(cli.config.mail_dir(), PathBuf::from("/var/lib/cuppa/mail"));
        }
    }

    #[test]
    fn links_point_where_the_server_listens_unless_told_otherwise() {
        if std::env::var_os("CUPPA_PUBLIC_URL").is_some() || std::env::var_os("CUPPA_LISTEN").is_some() {
            return;
        }
        let listening = Cli::parse_from(["cuppa", "--listen", "127.0.0.1:9000"]);
        assert_eq!(listening.config.public_url(), "http://127.0.0.1:9000");
        let told = Cli::parse_from(["cuppa", "--public-url", "https://cuppa.example/"]);
        assert_eq!(told.config.public_url(), "https://cuppa.example");
    }

    #[test]
    fn metrics_are_off_unless_an_address_is_given() {
        if std::env::var_os("CUPPA_METRICS_LISTEN").is_some() {
            return;
        }
        assert_eq!(Cli::parse_from(["cuppa"]).config.metrics_listen, None);
        let on = Cli::parse_from(["cuppa", "--metrics-listen", "127.0.0.1:9464"]);
        assert_eq!(on.config.metrics_listen, Some(SocketAddr::from(([127, 0, 0, 1], 9464))));
        let bad = Cli::try_parse_from(["cuppa", "--metrics-listen", "9464"]).err().expect("refused");
        assert!(bad.to_string().contains("--metrics-listen"), "{bad}");
    }

    #[test]
    fn trusted_proxies_are_repeated_or_comma_separated_and_checked() {
        let cli =
            Cli::parse_from(["cuppa", "--trusted-proxy", "127.0.0.1/32", "--trusted-proxy", "10.0.0.0/8,fd00::/8"]);
        let shown: Vec<String> = cli.config.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]);
        let typo = Cli::try_parse_from(["cuppa", "--trusted-proxy", "10.0.0.1/8"]).err().expect("refused");
        assert!(typo.to_string().contains("did you mean 10.0.0.0/8?"), "{typo}");
    }
}
