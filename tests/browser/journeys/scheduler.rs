//! Journey 3: an admin runs this week's round from the scheduler page, as an operator would
//! without a shell, and a member accepts the coffee it suggests.

use anyhow::ensure;

use super::{PASSWORD, Scene, VENUE};

const ADA: &str = "Ada Lovelace";
const BEN: &str = "Ben Okafor";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_a_round_and_a_member_accepts_the_suggestion() {
    let scene = Scene::start().await;
    scene.member("morgan", "Morgan Reyes", "admin").await;
    let ada = scene.member("ada", ADA, "member").await;
    let ben = scene.member("ben", BEN, "member").await;
    // Connected online, never met, free at the same hours, a café in their city: a pair.
    scene.follow(ada, ben).await;
    scene.free_every_day(ada).await;
    scene.free_every_day(ben).await;

    let journey = "scheduler";
    let admin = scene.browser().await;
    admin
        .step(journey, "an admin runs this week's round", async {
            admin.log_in("morgan", PASSWORD).await?;
            admin.follow("Admin").await?;
            admin.follow("Scheduler").await?;
            admin.wait_for_text("main h1", "Scheduler").await?;
            admin.wait_for_text("main", "No round has run yet.").await?;
            admin.press("main", "Run this week's round").await?;
            admin.wait_for_text("main .flash", "Round written:").await?;
            admin.wait_for_text("main .flash", "1 pair made").await?;
            admin.wait_for_text("main", "Past rounds").await
        })
        .await;

    let member = scene.browser().await;
    member
        .step(journey, "Ada sees the suggestion on her home page", async {
            member.log_in("ada", PASSWORD).await?;
            member.wait_for_text("#suggested", "Cuppa suggests").await?;
            let card = member.text("section[aria-labelledby=suggested]").await?;
            ensure!(card.contains(&format!("Coffee with {BEN}")) && card.contains(VENUE), "home suggests:\n{card}");
            Ok(())
        })
        .await;
    let mut when = String::new();
    member
        .step(journey, "Ada opens her suggestions", async {
            member.follow("Suggestions").await?;
            member.wait_for_text("main h1", "Suggested coffees").await?;
            member.wait_for_text(".suggestion h2", &format!("Coffee with {BEN}?")).await?;
            member.wait_for_text(".suggestion .facts", VENUE).await?;
            when = member.text(".suggestion .facts dd").await?;
            ensure!(when.contains("(GMT)") || when.contains("(BST)"), "the time is not in London's zone: {when}");
            Ok(())
        })
        .await;
    member
        .step(journey, "Ada accepts, and Ben is invited for that time and place", async {
            member.press(".suggestion", &format!("Accept and invite {BEN}")).await?;
            member
                .wait_for_text("main .flash", &format!("Invitation sent to {BEN}. You will be told when they answer."))
                .await?;
            // Accepting lands on the invitation it sent.
            member.wait_for_text("main h1", &format!("Coffee with {BEN}")).await?;
            member.wait_for_text(".facts", &when).await?;
            member.wait_for_text(".facts", VENUE).await?;
            member.wait_for_text("main", &format!("Waiting for {BEN} to answer.")).await?;
            member.follow("Suggestions").await?;
            member.wait_for_text(".suggestion .badge", "Accepted").await?;
            member.wait_for_text(".suggestion", &format!("You invited {BEN}.")).await
        })
        .await;
    // The admin's window logs out and Ben logs in there: one more person, one browser fewer.
    admin
        .step(journey, "Ben finds Ada's invitation", async {
            admin.press(".site-header", "Log out").await?;
            admin.wait_for_text("main .flash", "You have logged out. See you soon.").await?;
            admin.log_in("ben", PASSWORD).await?;
            admin.follow("Invitations").await?;
            admin.wait_for_text("main h1", "Coffee invitations").await?;
            admin.wait_for_text("main", "Your answer").await?;
            admin.follow_in("main", ADA).await?;
            admin.wait_for_text("main", &format!("{ADA} invited you")).await?;
            admin.wait_for_text(".facts", &when).await
        })
        .await;
    admin.quit().await;
    member.quit().await;
}
