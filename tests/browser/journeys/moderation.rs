//! Journey 5: a member reports another, an admin suspends the reported member from the report
//! queue, and the suspended member's open session ends on their next click.

use anyhow::ensure;

use super::{PASSWORD, Scene, open_profile_from_directory};

const MALLORY: &str = "Mallory Stone";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_member_is_logged_out_on_their_next_click() {
    let scene = Scene::start().await;
    scene.member("morgan", "Morgan Reyes", "admin").await;
    scene.member("ada", "Ada Lovelace", "member").await;
    scene.member("mallory", MALLORY, "member").await;
    let journey = "moderation";

    let mallory = scene.browser().await;
    mallory
        .step(journey, "Mallory is logged in", async {
            mallory.log_in("mallory", PASSWORD).await?;
            mallory.wait_for_text("main h1", &format!("Hello, {MALLORY}")).await
        })
        .await;

    let ada = scene.browser().await;
    ada.step(journey, "Ada reports Mallory", async {
        ada.log_in("ada", PASSWORD).await?;
        open_profile_from_directory(&ada, MALLORY).await?;
        ada.unfold("More").await?;
        ada.follow(&format!("Report {MALLORY}")).await?;
        ada.wait_for_text("main h1", "Report a problem").await?;
        ada.wait_for_text("main", "You are reporting").await?;
        ada.pick("main form", "Harassment").await?;
        ada.fill("#details", "Kept messaging me after I said no, on Tuesday evening.").await?;
        ada.press("main form", "Send report").await?;
        ada.wait_for_text("main .flash", "Thank you. Your report has been received.").await
    })
    .await;

    let admin = scene.browser().await;
    admin
        .step(journey, "an admin finds the report in the queue", async {
            admin.log_in("morgan", PASSWORD).await?;
            admin.follow("Admin").await?;
            admin.follow("Reports").await?;
            admin.wait_for_text("main h1", "Reports").await?;
            let row = admin.text("table.cases tr.case").await?;
            ensure!(row.contains(MALLORY) && row.contains("Harassment"), "the queue shows:\n{row}");
            admin.follow_in("table.cases", MALLORY).await?;
            admin.wait_for_text("main h1", &format!("{MALLORY} @mallory")).await?;
            admin.wait_for_text(".figures", "Active").await
        })
        .await;
    admin
        .step(journey, "the admin suspends Mallory", async {
            let act = "form[action$='/action']";
            admin.pick(act, "Suspend").await?;
            admin.fill("#reason", "Harassment reported by a member; confirmed from their messages.").await?;
            admin.press(act, "Do it").await?;
            admin.wait_for_text("main .flash", "Suspended: logged out on their next request.").await?;
            admin.wait_for_text(".figures", "Suspended").await
        })
        .await;

    mallory
        .step(journey, "Mallory's next click logs her out", async {
            mallory.follow("People").await?;
            mallory.wait_for_text("main .flash", "Your account is suspended, so you have been logged out.").await?;
            mallory.wait_for_text("main h1", "Log in").await?;
            let nav = mallory.text(".site-header").await?;
            ensure!(nav.contains("Log in") && !nav.contains("Log out"), "the navigation still shows a member:\n{nav}");
            Ok(())
        })
        .await;
    mallory
        .step(journey, "Mallory cannot log back in", async {
            mallory.fill("input[name=account]", "mallory").await?;
            mallory.fill("input[name=password]", PASSWORD).await?;
            mallory.press("main form", "Log in").await?;
            mallory.wait_for_text("main", "This account is suspended.").await
        })
        .await;

    for browser in [mallory, ada, admin] {
        browser.quit().await;
    }
}
