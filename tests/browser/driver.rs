//! Debian's Chromium, headless, driven through its chromedriver, and journeys made of named
//! steps. A step that fails leaves a screenshot and the page's HTML under
//! `target/browser-failures/` and names both in the failure.

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use thirtyfour::prelude::*;

/// Where Debian's packages put them; `CHROMIUM` and `CHROMEDRIVER` override.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// A desktop window, and a phone's screen (emulated: see `Browser::start`).
pub const DESKTOP: (u32, u32) = (1280, 1000);
pub const PHONE: (u32, u32) = (390, 844);
/// How long a page may take to show what a step waits for: a post, its redirect and the page
/// after it, on a shared 2-core machine with a debug build.
const WAIT: Duration = Duration::from_secs(15);

static NEXT_PROFILE: AtomicUsize = AtomicUsize::new(0);

pub struct Browser {
    chromedriver: Child,
    pub driver: WebDriver,
    /// The server's address, `http://127.0.0.1:port`.
    base: String,
    profile: PathBuf,
}

/// What `Browser::fetch` got back.
pub struct Fetched {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Browser {
    /// A fresh Chromium (its own profile: no cookies) at `size`, for the server at `base`.
    pub async fn start(base: &str, size: (u32, u32)) -> Browser {
        let port = free_port();
        let chromedriver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_owned());
        let chromedriver = Command::new(&chromedriver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{chromedriver_path} did not start ({err}): install chromium-driver"));
        let profile = std::env::temp_dir().join(format!(
            "cuppa-chromium-{}-{}",
            std::process::id(),
            NEXT_PROFILE.fetch_add(1, Ordering::SeqCst)
        ));
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned())).expect("binary");
        // No sandbox: the tests may run as root. The rest keep Chromium from reaching for a
        // network this machine does not have.
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--window-size={},{}", size.0, size.1),
        ] {
            caps.add_arg(arg).expect("argument");
        }
        // Chromium keeps its window at least 500 px wide, headless too, so a phone's screen is
        // emulated as the developer tools do it: that width, a phone's viewport and touch.
        if size.0 < 500 {
            let metrics =
                serde_json::json!({ "deviceMetrics": { "width": size.0, "height": size.1, "pixelRatio": 1.0 } });
            caps.add_experimental_option("mobileEmulation", metrics).expect("mobile emulation");
        }
        let driver_url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let driver = loop {
            match WebDriver::new(&driver_url, caps.clone()).await {
                Ok(driver) => break driver,
                // chromedriver takes a moment to listen after it starts.
                Err(_) if started.elapsed() < Duration::from_secs(20) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => panic!("no Chromium session through {chromedriver_path}: {err}"),
            }
        };
        Browser { chromedriver, driver, base: base.to_owned(), profile }
    }

    /// Opens `path` on the server.
    pub async fn goto(&self, path: &str) -> anyhow::Result<()> {
        self.driver.goto(format!("{}{path}", self.base)).await.with_context(|| format!("open {path}"))
    }

    /// The path (and query) of the page the browser shows.
    pub async fn path(&self) -> anyhow::Result<String> {
        let url = self.driver.current_url().await?;
        Ok(match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        })
    }

    /// Types `value` into the field `css` names, replacing what was there.
    pub async fn fill(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let field = self.find(css).await?;
        field.clear().await?;
        field.send_keys(value).await.with_context(|| format!("type into {css}"))
    }

    /// Picks the option whose visible text is `label` in the select `css` names. An option can
    /// only hold text, so member-typed parts of it are isolated with invisible marks (U+2068,
    /// U+2069; see `web::bidi`): they are left out of the comparison, as a reader sees none.
    pub async fn choose(&self, css: &str, label: &str) -> anyhow::Result<()> {
        let select = self.find(css).await?;
        let option = select
            .find(By::XPath(format!(
                ".//option[translate(normalize-space(), '\u{2068}\u{2069}', '')={}]",
                xpath_literal(label)
            )))
            .await
            .with_context(|| format!("no option {label:?} in {css}"))?;
        option.click().await?;
        Ok(())
    }

    /// Clicks the element `css` names.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.find(css).await?.click().await.with_context(|| format!("click {css}"))
    }

    /// Clicks the button (or submit input) whose text is `label`, inside `within` (a CSS
    /// selector for the form or section: a page often has several buttons of one name).
    pub async fn press(&self, within: &str, label: &str) -> anyhow::Result<()> {
        let scope = self.find(within).await?;
        let literal = xpath_literal(label);
        let button = scope
            .find(By::XPath(format!(
                ".//button[normalize-space()={literal}] | .//input[@type='submit' and @value={literal}]"
            )))
            .await
            .with_context(|| format!("no button {label:?} in {within}"))?;
        button.click().await.with_context(|| format!("press {label:?}"))
    }

    /// Follows the link whose text is `label`.
    pub async fn follow(&self, label: &str) -> anyhow::Result<()> {
        let link = self
            .driver
            .find(By::XPath(format!("//a[normalize-space()={}]", xpath_literal(label))))
            .await
            .with_context(|| format!("no link {label:?}"))?;
        link.click().await.with_context(|| format!("follow {label:?}"))
    }

    /// Follows the first link inside `within` whose text holds `text`: a list entry's link
    /// often carries more than a name (a handle, a city).
    pub async fn follow_in(&self, within: &str, text: &str) -> anyhow::Result<()> {
        let scope = self.find(within).await?;
        let link = scope
            .find(By::XPath(format!(".//a[contains(normalize-space(), {})]", xpath_literal(text))))
            .await
            .with_context(|| format!("no link holding {text:?} in {within}"))?;
        link.click().await.with_context(|| format!("follow {text:?}"))
    }

    /// The visible text of the first element `css` names.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.find(css).await?.text().await?)
    }

    /// Waits until the first element `css` names shows `needle` (a post's redirect and the
    /// page after it take a moment), and fails with what it showed instead.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> anyhow::Result<()> {
        self.wait_for_text_where(css, needle, |text| text.contains(needle)).await
    }

    /// `wait_for_text` for words the stylesheet may draw in capitals (small headings, labels
    /// such as "PROPOSED BY"): the browser reports text as drawn, so case is ignored.
    pub async fn wait_for_words(&self, css: &str, needle: &str) -> anyhow::Result<()> {
        let needle_lower = needle.to_lowercase();
        self.wait_for_text_where(css, needle, |text| text.to_lowercase().contains(&needle_lower)).await
    }

    async fn wait_for_text_where(&self, css: &str, needle: &str, shows: impl Fn(&str) -> bool) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < WAIT {
            if let Ok(element) = self.driver.find(By::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if shows(&text) {
                    return Ok(());
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{css} never showed {needle:?}; it showed:\n{last}")
    }

    /// Waits until the browser is on `path` (a redirect's target).
    pub async fn wait_for_path(&self, path: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < WAIT {
            last = self.path().await?;
            if last == path {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the browser never reached {path}; it is on {last}")
    }

    /// Logs in through the log-in page and waits for home's greeting.
    pub async fn log_in(&self, handle: &str, password: &str) -> anyhow::Result<()> {
        self.goto("/login").await?;
        self.fill("input[name=account]", handle).await?;
        self.fill("input[name=password]", password).await?;
        self.press("main form", "Log in").await?;
        self.wait_for_text("main", "Welcome back!").await
    }

    /// Sets the field `css` names to `value` as a picker would, for the fields that typing
    /// cannot fill the same way in every locale (`datetime-local`, `date`, `time`): sets the
    /// value, sends the `input` and `change` events a person's choice sends, and fails if the
    /// browser refused the value (it drops a malformed one silently).
    pub async fn set_value(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let field = self.find(css).await?;
        let took = self
            .driver
            .execute(
                "const [field, value] = arguments;
                 field.value = value;
                 field.dispatchEvent(new Event('input', { bubbles: true }));
                 field.dispatchEvent(new Event('change', { bubbles: true }));
                 return field.value;",
                vec![field.to_json()?, serde_json::Value::from(value)],
            )
            .await
            .with_context(|| format!("set {css}"))?;
        let shown = took.json().as_str().unwrap_or_default();
        ensure!(shown == value, "{css} took {shown:?} rather than {value:?}");
        Ok(())
    }

    /// Chooses the file at `path` in the file input `css` names, as the file picker does.
    pub async fn attach(&self, css: &str, path: &Path) -> anyhow::Result<()> {
        let input = self.find(css).await?;
        input.send_keys(path.display().to_string()).await.with_context(|| format!("attach {} to {css}", path.display()))
    }

    /// Clicks the label (of a radio button or checkbox) whose text holds `text`, inside
    /// `within`, as a person ticks a choice by its words.
    pub async fn pick(&self, within: &str, text: &str) -> anyhow::Result<()> {
        let scope = self.find(within).await?;
        let label = scope
            .find(By::XPath(format!(".//label[contains(normalize-space(), {})]", xpath_literal(text))))
            .await
            .with_context(|| format!("no choice {text:?} in {within}"))?;
        label.click().await.with_context(|| format!("pick {text:?}"))
    }

    /// Opens the `<details>` whose summary reads `summary` (a folded form, "More").
    pub async fn unfold(&self, summary: &str) -> anyhow::Result<()> {
        let literal = xpath_literal(summary);
        let summary_element = self
            .driver
            .find(By::XPath(format!("//summary[normalize-space()={literal}]")))
            .await
            .with_context(|| format!("no folded section {summary:?}"))?;
        summary_element.click().await.with_context(|| format!("unfold {summary:?}"))
    }

    /// Waits until the image `css` names has loaded and has pixels (a broken image has none).
    pub async fn wait_for_image(&self, css: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        while started.elapsed() < WAIT {
            let image = self.find(css).await?;
            let loaded = self
                .driver
                .execute(
                    "const [image] = arguments; return image.complete && image.naturalWidth > 0;",
                    vec![image.to_json()?],
                )
                .await?;
            if loaded.json().as_bool() == Some(true) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the image {css} never loaded")
    }

    /// Fetches `path` from the page, as a click on a download link does: same origin, with
    /// the browser's cookies.
    pub async fn fetch(&self, path: &str) -> anyhow::Result<Fetched> {
        let fetched = self
            .driver
            .execute_async(
                "const [path, done] = arguments;
                 fetch(path, { credentials: 'same-origin' })
                   .then(r => r.text().then(body => done({ status: r.status, type: r.headers.get('content-type'), body })))
                   .catch(e => done({ status: 0, type: null, body: String(e) }));",
                vec![serde_json::Value::from(path)],
            )
            .await
            .with_context(|| format!("fetch {path}"))?;
        let json = fetched.json();
        Ok(Fetched {
            status: json["status"].as_u64().unwrap_or(0) as u16,
            content_type: json["type"].as_str().unwrap_or_default().to_owned(),
            body: json["body"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// The first element `css` names, or an error that says which.
    pub async fn find(&self, css: &str) -> anyhow::Result<WebElement> {
        self.driver.find(By::Css(css)).await.with_context(|| format!("nothing on the page matches {css}"))
    }

    /// Runs one step of a journey. A step that fails saves what the browser showed and
    /// panics with the step's name, the error and the files to look at.
    pub async fn step<F>(&self, journey: &str, step: &str, work: F)
    where
        F: Future<Output = anyhow::Result<()>>,
    {
        if let Err(err) = work.await {
            let saved = self.save_failure(journey, step).await;
            panic!("{journey}: step {step:?} failed: {err:#}\n{saved}");
        }
    }

    /// Writes a screenshot and the page's HTML under `target/browser-failures/`, and says where.
    pub async fn save_failure(&self, journey: &str, step: &str) -> String {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("browser-failures");
        if let Err(err) = std::fs::create_dir_all(&dir) {
            return format!("(could not create {}: {err})", dir.display());
        }
        let stem: String = format!("{journey}-{step}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect();
        let png = dir.join(format!("{stem}.png"));
        let html = dir.join(format!("{stem}.html"));
        let url = self.driver.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let shot = self.driver.screenshot(&png).await;
        let source = self.driver.source().await.map(|source| std::fs::write(&html, source));
        format!(
            "page: {url}\nscreenshot: {} {}\nhtml: {} {}",
            png.display(),
            if shot.is_ok() { "" } else { "(not saved)" },
            html.display(),
            if matches!(source, Ok(Ok(()))) { "" } else { "(not saved)" },
        )
    }

    /// Ends the session and stops Chromium and chromedriver.
    pub async fn quit(mut self) {
        let _ = self.driver.clone().quit().await;
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Drop for Browser {
    /// A test that panicked never reached `quit`: do not leave chromedriver behind.
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

/// A loopback port nothing listens on at this moment.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// `text` as an XPath string literal, whatever quotes it holds.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    let parts: Vec<String> = text.split('\'').map(|part| format!("'{part}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}
