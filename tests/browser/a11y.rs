//! Accessibility of the main pages, as a browser gets them from a real server over the demo
//! community: axe-core (vendored, see `vendor/README.md`) run in Chromium on each page, and
//! the W3C Nu Html Checker (`vnu-jar`, pinned in `vnu/package.json`) on the HTML the server
//! sent for each, in one Java run at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};
use cuppa::seed::{ADMIN_HANDLE, DEMO_HANDLE, DEMO_PASSWORD};
use serde_json::Value;

use crate::driver::{Browser, DESKTOP};
use crate::served::{Options, Served};
use crate::test_db;

/// axe-core, compiled into the test so that nothing is fetched at run time.
const AXE: &str = include_str!("vendor/axe-4.14.1.min.js");
/// Where `npm ci` in `tests/browser/vnu` puts the checker (`scripts/test-browser` runs it).
const VNU_JAR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/vnu/node_modules/vnu-jar/build/dist/vnu.jar");
/// axe's impact levels, mildest first; the last two fail the test.
const IMPACTS: [&str; 4] = ["minor", "moderate", "serious", "critical"];
const JOURNEY: &str = "a11y";

/// Runs the injected axe on the whole document and returns each violated rule with the
/// elements it found, compactly (the full result is megabytes on a long page).
const RUN_AXE: &str = "const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] })
  .then(r => done({ violations: r.violations.map(v => ({
    id: v.id, impact: v.impact || 'minor', help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ')) })) }))
  .catch(e => done({ error: String(e) }));";

/// The landing, sign-up and log-in pages for a visitor; home, the directory, a profile, a real
/// invitation, suggestions (after the admin runs this week's round), notifications, settings
/// and a report for the demo member; and the admin's dashboard, member page and reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_pages_pass_axe_and_the_nu_html_checker() {
    let (pool, url) = test_db::fresh_database().await;
    let server = Served::start(Options { database_url: Some(&url), serve_args: &["--demo", "--no-jobs"], env: &[] });
    let mut audit = Audit::new();

    let visitor = Browser::start(&server.base, DESKTOP).await;
    for (name, path, shows) in [
        ("landing", "/", "Now meet them."),
        ("sign-up", "/signup", "Join Cuppa"),
        ("log-in", "/login", "Forgot your password?"),
    ] {
        audit.check(&visitor, name, path, shows).await;
    }
    visitor.quit().await;

    let admin = Browser::start(&server.base, DESKTOP).await;
    admin
        .step(JOURNEY, "the admin runs this week's round", async {
            admin.log_in(ADMIN_HANDLE, DEMO_PASSWORD).await?;
            admin.goto("/admin/scheduler").await?;
            admin.press("main", "Run this week's round").await?;
            admin.wait_for_text("main", "Round written").await
        })
        .await;

    // The demo member's first invitation, with someone they follow or who follows them.
    let (invitation, other): (i64, i64) = sqlx::query_as(
        "select i.id, case when i.inviter_id = m.id then i.invitee_id else i.inviter_id end
         from invitations i join members m on m.id in (i.inviter_id, i.invitee_id)
         where m.handle = $1 order by i.id limit 1",
    )
    .bind(DEMO_HANDLE)
    .fetch_one(&pool)
    .await
    .expect("the demo seed has an invitation");
    let other_handle: String =
        sqlx::query_scalar("select handle from members where id = $1").bind(other).fetch_one(&pool).await.unwrap();

    let demo = Browser::start(&server.base, DESKTOP).await;
    demo.step(JOURNEY, "the demo member logs in", demo.log_in(DEMO_HANDLE, DEMO_PASSWORD)).await;
    for (name, path, shows) in [
        ("home", "/".to_owned(), "Hello, Demo Member"),
        ("directory", "/people".to_owned(), "People"),
        ("profile", format!("/m/{other_handle}"), "Invite to coffee"),
        ("invitation", format!("/invitations/{invitation}"), "Coffee with"),
        ("suggestions", "/suggestions".to_owned(), "Accept and invite"),
        ("notifications", "/notifications".to_owned(), "invites you to coffee"),
        ("settings: profile", "/settings/profile".to_owned(), "Display name"),
        ("settings: photo", "/settings/photo".to_owned(), "Your photo"),
        ("settings: account", "/settings/account".to_owned(), "Change password"),
        ("report form", format!("/report/member/{other}"), "You are reporting"),
    ] {
        audit.check(&demo, name, &path, shows).await;
    }
    demo.step(JOURNEY, "the demo member files a report", file_report(&demo, other, "They never turned up.")).await;
    let report = demo.path().await.expect("the report's page");
    audit.check(&demo, "my report", &report, "They never turned up.").await;
    demo.quit().await;

    let case: i64 = sqlx::query_scalar("select max(id) from moderation_cases").fetch_one(&pool).await.unwrap();
    for (name, path, shows) in [
        ("admin: dashboard", "/admin".to_owned(), "The community today"),
        ("admin: scheduler", "/admin/scheduler".to_owned(), "Pairs per round"),
        ("admin: member", format!("/admin/members/{other_handle}"), "Warnings"),
        ("admin: reports", "/admin/reports".to_owned(), "Spam"),
        ("admin: report case", format!("/admin/reports/{case}"), "They never turned up."),
    ] {
        audit.check(&admin, name, &path, shows).await;
    }
    admin.quit().await;

    audit.finish();
}

/// Reports member `id` as spam with `details`, through the report form, and waits for the
/// report's own page.
pub async fn file_report(browser: &Browser, id: i64, details: &str) -> anyhow::Result<()> {
    browser.goto(&format!("/report/member/{id}")).await?;
    browser.click("input[name=category][value=spam]").await?;
    browser.fill("textarea[name=details]", details).await?;
    browser.press("main form", "Send report").await?;
    browser.wait_for_text("main", "Your report has been received").await
}

/// What axe found on one page, and where its HTML was saved for the Nu checker.
struct Checked {
    name: String,
    /// Violated rules by impact.
    counts: BTreeMap<&'static str, usize>,
    /// The serious and critical ones, a line each with the elements.
    failures: Vec<String>,
}

struct Audit {
    pages: Vec<Checked>,
    /// Each page's served HTML, named by its position, for the checker.
    dir: PathBuf,
}

impl Audit {
    fn new() -> Audit {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("browser-a11y");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for the pages' HTML");
        Audit { pages: Vec::new(), dir }
    }

    /// Opens `path`, checks that it `shows` what that page shows (not a log-in form or an
    /// error), runs axe on it and saves the HTML the server sent.
    async fn check(&mut self, browser: &Browser, name: &str, path: &str, shows: &str) {
        let file = self.dir.join(format!("{:02}.html", self.pages.len()));
        let mut checked = None;
        browser
            .step(JOURNEY, &format!("axe on {name}"), async {
                browser.goto(path).await?;
                browser.wait_for_text("main", shows).await?;
                // The bytes the server sends, fetched again with the browser's cookies: the
                // checker must see those, not `driver.source()`, which is Chromium's
                // serialisation of the DOM after its parser repaired the markup.
                let served = browser.fetch(path).await?;
                ensure!(served.status == 200, "{path} answered {} when fetched again", served.status);
                std::fs::write(&file, served.body)?;
                checked = Some(run_axe(browser, name).await?);
                Ok(())
            })
            .await;
        self.pages.extend(checked);
    }

    /// Prints the figures, runs the Nu checker on every saved page, and fails on a serious or
    /// critical violation or any checker error, naming the page.
    fn finish(self) {
        println!("axe-core 4.14.1, violated rules by impact ({})", IMPACTS.join(", "));
        for page in &self.pages {
            let counts: Vec<String> = IMPACTS.iter().map(|i| page.counts.get(i).unwrap_or(&0).to_string()).collect();
            println!("  {:<22} {}", page.name, counts.join(" "));
        }
        let names: Vec<&str> = self.pages.iter().map(|p| p.name.as_str()).collect();
        let vnu = run_vnu(&self.dir, &names);
        println!("Nu Html Checker: {} pages, {} errors", self.pages.len(), vnu.len());
        let axe: Vec<&String> = self.pages.iter().flat_map(|p| &p.failures).collect();
        if axe.is_empty() && vnu.is_empty() {
            return;
        }
        let mut report = String::new();
        for failure in axe {
            report.push_str(&format!("axe: {failure}\n"));
        }
        for error in &vnu {
            report.push_str(&format!("vnu: {error}\n"));
        }
        panic!("{report}(the pages' HTML is under {})", self.dir.display());
    }
}

/// Injects axe into the page the browser shows and runs it.
async fn run_axe(browser: &Browser, name: &str) -> anyhow::Result<Checked> {
    browser.driver.execute(AXE, Vec::new()).await.context("inject axe")?;
    let result = browser.driver.execute_async(RUN_AXE, Vec::new()).await.context("run axe")?;
    let result = result.json();
    if let Some(error) = result.get("error") {
        bail!("axe failed: {error}");
    }
    let mut checked = Checked { name: name.to_owned(), counts: BTreeMap::new(), failures: Vec::new() };
    for violation in result["violations"].as_array().context("axe's violations")? {
        let impact = IMPACTS.iter().copied().find(|&i| violation["impact"] == i).unwrap_or("minor");
        *checked.counts.entry(impact).or_default() += 1;
        if matches!(impact, "serious" | "critical") {
            let nodes: Vec<&str> =
                violation["nodes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            checked.failures.push(format!(
                "{name}: {} ({impact}): {} at {}",
                violation["id"].as_str().unwrap_or("?"),
                violation["help"].as_str().unwrap_or(""),
                nodes.join(", ")
            ));
        }
    }
    Ok(checked)
}

/// Runs the Nu Html Checker once on every `NN.html` in `dir` and returns its errors, each
/// with the page's name (`names[NN]`), line and message.
fn run_vnu(dir: &Path, names: &[&str]) -> Vec<String> {
    assert!(
        Path::new(VNU_JAR).exists(),
        "{VNU_JAR} is missing: run `npm ci --ignore-scripts` in tests/browser/vnu (scripts/test-browser does)"
    );
    let files: Vec<PathBuf> = (0..names.len()).map(|i| dir.join(format!("{i:02}.html"))).collect();
    let output = Command::new("java")
        .args(["-jar", VNU_JAR, "--errors-only", "--format", "json"])
        .args(&files)
        .output()
        .unwrap_or_else(|err| panic!("java did not start ({err}): install default-jre-headless"));
    // The checker writes its JSON report to stderr and exits 1 when it found errors.
    let report: Value = serde_json::from_slice(&output.stderr).unwrap_or_else(|err| {
        panic!("the checker's output is not JSON ({err}):\n{}", String::from_utf8_lossy(&output.stderr))
    });
    let mut errors = Vec::new();
    for message in report["messages"].as_array().into_iter().flatten() {
        let file = message["url"].as_str().unwrap_or_default();
        let page = file
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".html"))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| names.get(n))
            .copied()
            .unwrap_or(file);
        errors.push(format!(
            "{page}: line {}: {} [{}]",
            message["lastLine"],
            message["message"].as_str().unwrap_or("?"),
            message["extract"].as_str().unwrap_or("").trim()
        ));
    }
    errors
}
