//! The email sender: a job beside the web server that sends what `store::record` put in the
//! outbox, over SMTP when one is configured and otherwise as `.eml` files in the mail folder
//! (for development, demos and tests: nothing leaves the machine).
//!
//! Each email is one transaction: take a due row with `for update skip locked`, send it, mark
//! it sent (or schedule its retry, see `model::after_failure`), commit. Two senders, in one
//! process or in two replicas, never take the same row. Delivery is at least once: if the
//! process dies or the database goes away after a mail left but before the commit, that one
//! mail goes again later (with the same Message-ID; in the mail folder the second
//! write fails loudly instead, as its file is opened with `create_new`).
//!
//! A member who turned a kind of email off after one was queued still gets that one: it was
//! queued under the choice they had when the event happened, as its text was written then.
//! An email whose member has deleted their account is not sent.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;

use super::model::{self, Email, Retry};
use super::store::{self, DueMail};
use crate::config::Config;
use crate::shutdown::Shutdown;

/// Emails sent per round before the sender looks again (each in its own transaction).
pub const BATCH_SIZE: i64 = 20;
/// How often the sender looks for due emails when the outbox is empty.
const POLL_EVERY: Duration = Duration::from_secs(5);
/// One SMTP conversation may take this long before it counts as a failed attempt.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// How emails leave Cuppa, and what they say about where it is.
pub struct Mailer {
    from: Mailbox,
    /// The site's address without a trailing slash, for links in emails.
    public_url: String,
    delivery: Delivery,
}

enum Delivery {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(PathBuf),
}

// The SMTP transport holds the credentials from its URL: never print it.
impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let delivery = match &self.delivery {
            Delivery::Smtp(_) => "smtp".to_owned(),
            Delivery::Folder(dir) => format!("folder {}", dir.display()),
        };
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("public_url", &self.public_url)
            .field("delivery", &delivery)
            .finish()
    }
}

/// Why one email did not go out.
#[derive(Debug)]
struct Failure {
    message: String,
    /// Waiting will not help: give up at once.
    permanent: bool,
}

impl Failure {
    fn transient(message: impl Into<String>) -> Self {
        Failure { message: message.into(), permanent: false }
    }

    fn permanent(message: impl Into<String>) -> Self {
        Failure { message: message.into(), permanent: true }
    }
}

impl Mailer {
    /// The mailer the configuration asks for: SMTP when `--smtp-url` is set, else the folder.
    pub fn from_config(config: &Config) -> anyhow::Result<Mailer> {
        match &config.smtp_url {
            Some(url) => Mailer::smtp(url, &config.mail_from, &config.public_url()),
            None => Mailer::folder(config.mail_dir(), &config.mail_from, &config.public_url()),
        }
    }

    /// Sends through the SMTP server at `url` (`smtp://host:port` in plain text, `smtps://` or
    /// `smtp://...?tls=required` with TLS; user and password in the URL). Nothing is
    /// contacted until the first email.
    pub fn smtp(url: &str, from: &str, public_url: &str) -> anyhow::Result<Mailer> {
        // The URL may hold a password: the error says what is wrong, never the URL itself.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|err| anyhow::anyhow!("the SMTP URL is not usable: {err}"))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Mailer::new(from, public_url, Delivery::Smtp(transport))
    }

    /// Writes each email as `<outbox id>.eml` into `dir`, created when first needed.
    pub fn folder(dir: impl Into<PathBuf>, from: &str, public_url: &str) -> anyhow::Result<Mailer> {
        Mailer::new(from, public_url, Delivery::Folder(dir.into()))
    }

    fn new(from: &str, public_url: &str, delivery: Delivery) -> anyhow::Result<Mailer> {
        let from = from.parse::<Mailbox>().with_context(|| format!("the mail sender {from:?} is not an address"))?;
        let public_url = public_url.trim_end_matches('/').to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            anyhow::bail!("the public URL {public_url:?} must start with http:// or https://");
        }
        Ok(Mailer { from, public_url, delivery })
    }

    /// Where emails go, for the start-up log: the folder, or just "SMTP" (its URL may hold a
    /// password).
    pub fn describe(&self) -> String {
        match &self.delivery {
            Delivery::Smtp(_) => "SMTP".to_owned(),
            Delivery::Folder(dir) => format!("the folder {}", dir.display()),
        }
    }

    fn message(&self, email: &Email) -> Result<Message, Failure> {
        // An address that does not parse today will not parse tomorrow.
        let to = email.to.parse::<Mailbox>().map_err(|err| Failure::permanent(format!("bad address: {err}")))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(email.message_id.clone()))
            // RFC 3834: tells auto-responders (holiday replies) not to answer.
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".to_owned()))
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .map_err(|err| Failure::permanent(format!("could not build the message: {err}")))
    }

    async fn deliver(&self, id: i64, message: Message) -> Result<(), Failure> {
        match &self.delivery {
            Delivery::Smtp(transport) => transport.send(message).await.map(|_| ()).map_err(|err| Failure {
                // A 5xx answer (no such mailbox, refused) will be the same next time.
                permanent: err.is_permanent(),
                message: format!("SMTP: {err}"),
            }),
            Delivery::Folder(dir) => write_eml(dir, id, &message.formatted()).await,
        }
    }

    async fn send(&self, mail: &DueMail) -> Result<(), Failure> {
        if mail.member_id.is_none() {
            return Err(Failure::permanent("the member has deleted their account"));
        }
        let email = model::compose(
            mail.id,
            mail.kind,
            &mail.to_address,
            &mail.subject,
            &mail.body,
            &mail.link,
            &self.public_url,
        );
        let message = self.message(&email)?;
        self.deliver(mail.id, message).await
    }
}

/// Writes one email to `<dir>/<id>.eml`. The file must not exist: one outbox row is one mail,
/// and a second write of the same one means something sent it twice, which is refused (and
/// recorded on the row) rather than hidden by overwriting.
async fn write_eml(dir: &std::path::Path, id: i64, bytes: &[u8]) -> Result<(), Failure> {
    let io_failure = |what: &str, err: std::io::Error| Failure::transient(format!("{what} {}: {err}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(|err| io_failure("could not create the mail folder", err))?;
    let path = dir.join(format!("{id}.eml"));
    let mut file = match tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Failure::permanent(format!(
                "{} already exists: this email was written before",
                path.display()
            )));
        }
        Err(err) => return Err(io_failure("could not write into the mail folder", err)),
    };
    file.write_all(bytes).await.map_err(|err| io_failure("could not write into the mail folder", err))?;
    file.sync_all().await.map_err(|err| io_failure("could not write into the mail folder", err))?;
    Ok(())
}

/// What one batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Due emails taken (and locked) by this batch.
    pub taken: usize,
    pub sent: usize,
    /// Failed this time, to be tried again later.
    pub retrying: usize,
    /// Failed for the last time.
    pub given_up: usize,
}

/// Sends up to `limit` due emails, each in its own transaction, recording each outcome. An
/// error here is the database's: that email's transaction is rolled back and it stays due.
pub async fn send_due(pool: &PgPool, mailer: &Mailer, limit: i64) -> anyhow::Result<Batch> {
    send_batch(pool, mailer, limit, None).await
}

async fn send_batch(pool: &PgPool, mailer: &Mailer, limit: i64, stop: Option<&Shutdown>) -> anyhow::Result<Batch> {
    let mut batch = Batch::default();
    // One email per transaction: if recording a send fails (or the process dies), only that one
    // email can go out again, never a whole batch already delivered.
    while (batch.taken as i64) < limit && !stop.is_some_and(Shutdown::is_stopping) {
        let mut tx = pool.begin().await.context("could not begin the outbox transaction")?;
        let Some(mail) = store::take_due_mail(&mut tx, 1).await.context("could not read the outbox")?.pop() else {
            break;
        };
        batch.taken += 1;
        match mailer.send(&mail).await {
            Ok(()) => {
                store::mark_sent(&mut tx, mail.id).await.context("could not mark an email sent")?;
                batch.sent += 1;
            }
            Err(failure) => {
                let attempts = mail.attempts + 1;
                let retry = model::after_failure(attempts, failure.permanent);
                let retry_in = match retry {
                    Retry::After(delay) => {
                        tracing::warn!(outbox = mail.id, attempts, error = %failure.message, retry_in = %delay, "email not sent; will retry");
                        batch.retrying += 1;
                        Some(delay.num_milliseconds() as f64 / 1000.0)
                    }
                    Retry::GiveUp => {
                        tracing::error!(outbox = mail.id, attempts, error = %failure.message, "email not sent; giving up");
                        batch.given_up += 1;
                        None
                    }
                };
                store::mark_attempt_failed(&mut tx, mail.id, &failure.message, retry_in)
                    .await
                    .context("could not record a failed email")?;
            }
        }
        tx.commit().await.context("could not commit a sent email")?;
    }
    Ok(batch)
}

/// Sends the outbox until `shutdown`: every few seconds, and batch after batch while batches
/// come back full. A failing database is logged and tried again at the next tick.
pub async fn run_sender(pool: PgPool, mailer: Mailer, mut shutdown: Shutdown) {
    let mut every = tokio::time::interval(POLL_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = shutdown.wait() => return,
        }
        loop {
            match send_batch(&pool, &mailer, BATCH_SIZE, Some(&shutdown)).await {
                Ok(batch) => {
                    if batch.taken > 0 {
                        tracing::info!(
                            sent = batch.sent,
                            retrying = batch.retrying,
                            given_up = batch.given_up,
                            "sent emails"
                        );
                    }
                    if batch.taken < BATCH_SIZE as usize || shutdown.is_stopping() {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = format!("{err:#}"), "could not send the email outbox");
                    break;
                }
            }
        }
    }
}
