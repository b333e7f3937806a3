//! Cuppa in a real Chromium, driven through chromedriver: journeys people take, accessibility
//! (axe-core, the Nu Html Checker) and hostile strings on a phone-width screen.

mod a11y;
mod driver;
mod hostile_render;
mod journeys;
#[path = "../common/served.rs"]
mod served;
#[path = "../common/db.rs"]
mod test_db;

use driver::{Browser, DESKTOP};
use served::{Options, Served};

/// The smallest journey: the landing page, the log-in form, home.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_member_logs_in_from_the_landing_page() {
    let (_pool, url) = test_db::fresh_database().await;
    let server = Served::start(Options { database_url: Some(&url), serve_args: &["--demo", "--no-jobs"], env: &[] });
    let browser = Browser::start(&server.base, DESKTOP).await;
    let journey = "landing";
    browser
        .step(journey, "the landing page offers a log-in", async {
            browser.goto("/").await?;
            browser.follow("Log in").await?;
            browser.wait_for_path("/login").await
        })
        .await;
    browser
        .step(journey, "the demo member logs in and sees home", async {
            browser.log_in(cuppa::seed::DEMO_HANDLE, cuppa::seed::DEMO_PASSWORD).await?;
            browser.wait_for_text("main h1", "Hello, Demo Member").await?;
            browser.wait_for_text("main", "You have met 2 of the 10 people you follow.").await
        })
        .await;
    browser.quit().await;
}
