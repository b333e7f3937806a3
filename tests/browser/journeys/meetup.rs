//! Journey 4: a meetup with one seat; the second to RSVP waits, the first cancels, and the
//! seat goes to the one waiting, who is told.

use anyhow::ensure;

use super::{PASSWORD, Scene, VENUE_PLACE, cafe_time};
use crate::driver::Browser;

const TITLE: &str = "Board games at the Corner";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_seat_goes_to_the_member_on_the_waitlist() {
    let scene = Scene::start().await;
    scene.member("olu", "Olu Adeyemi", "organiser").await;
    scene.member("ada", "Ada Lovelace", "member").await;
    scene.member("ben", "Ben Okafor", "member").await;
    let journey = "meetup";

    let organiser = scene.browser().await;
    let (starts, ends) = (cafe_time(5, 18, 0), cafe_time(5, 21, 0));
    organiser
        .step(journey, "the organiser posts a meetup with one seat", async {
            organiser.log_in("olu", PASSWORD).await?;
            organiser.follow("Meetups").await?;
            organiser.follow("Post a meetup").await?;
            organiser.wait_for_text("main h1", "Post a meetup").await?;
            organiser.fill("#title", TITLE).await?;
            organiser.fill("#description", "Bring a game, or learn one. Two hours, no experience needed.").await?;
            organiser.choose("#venue_id", &format!("{VENUE_PLACE} (Europe/London)")).await?;
            organiser.set_value("#starts_at", &starts.typed).await?;
            organiser.set_value("#ends_at", &ends.typed).await?;
            organiser.fill("#capacity", "1").await?;
            organiser.pick("main form", "Just this once").await?;
            organiser.press("main form", "Post meetup").await?;
            organiser.wait_for_text("main .flash", "Your meetup is posted.").await?;
            organiser.wait_for_text("main h1", TITLE).await?;
            organiser.wait_for_text(".facts", &starts.label).await?;
            organiser.wait_for_text(".facts", "0 taken of 1, 1 left").await
        })
        .await;

    let ada = scene.browser().await;
    ada.step(journey, "Ada takes the seat", async {
        ada.log_in("ada", PASSWORD).await?;
        open_meetup(&ada, "1 of 1 seats left").await?;
        ada.press(".answer", "I'm going").await?;
        ada.wait_for_text("main .flash", "You are going. See you there!").await?;
        ada.wait_for_text(".status-line", "You are going.").await?;
        ada.wait_for_text(".facts", "1 taken of 1, none left").await
    })
    .await;

    let ben = scene.browser().await;
    ben.step(journey, "Ben finds it full and joins the waitlist", async {
        ben.log_in("ben", PASSWORD).await?;
        open_meetup(&ben, "Full").await?;
        ben.press(".answer", "Join the waitlist").await?;
        ben.wait_for_text(
            "main .flash",
            "The meetup is full: you are 1st on the waitlist. You will be told if a seat frees up.",
        )
        .await?;
        ben.wait_for_text(".status-line", "You are 1st on the waitlist.").await?;
        ben.wait_for_text(".facts", "1 on the waitlist").await
    })
    .await;

    ada.step(journey, "Ada cannot come after all", async {
        ada.press(".answer", "I can't come after all").await?;
        ada.wait_for_text(
            "main .flash",
            "You are no longer going. Your seat has gone to the next person waiting, if anyone was.",
        )
        .await?;
        // The seat went to Ben at once: all Ada can do now is wait behind him.
        ada.wait_for_text(".answer", "Join the waitlist").await
    })
    .await;

    ben.step(journey, "Ben's page says he is going, and he is told", async {
        ben.driver.refresh().await?;
        ben.wait_for_text(".status-line", "You are going.").await?;
        ben.wait_for_text(".facts", "1 taken of 1, none left").await?;
        ben.wait_for_text(".nav-notifications .badge-count", "1").await?;
        ben.follow_in(".site-header", "Notifications").await?;
        ben.wait_for_text("main h1", "Notifications").await?;
        ben.wait_for_text("ul.notifications", &format!("A seat freed up: you are going to “{TITLE}”")).await
    })
    .await;

    organiser
        .step(journey, "the organiser sees Ben going and nobody waiting", async {
            organiser.driver.refresh().await?;
            organiser.wait_for_text(".facts", "1 taken of 1, none left").await?;
            organiser.wait_for_text("ul.attendees", "Ben Okafor").await?;
            organiser.wait_for_words("#going-heading", "Going (1)").await?;
            let list = organiser.text("section[aria-labelledby=going-heading]").await?;
            ensure!(!list.to_lowercase().contains("waitlist"), "someone still waits:\n{list}");
            Ok(())
        })
        .await;

    for browser in [organiser, ada, ben] {
        browser.quit().await;
    }
}

/// Opens the meetup from the list of meetups, where its seats read `seats`.
async fn open_meetup(browser: &Browser, seats: &str) -> anyhow::Result<()> {
    browser.follow("Meetups").await?;
    browser.wait_for_text("main h1", "Meetups").await?;
    browser.wait_for_text("li.meetup-card", TITLE).await?;
    browser.wait_for_text("li.meetup-card .seats", seats).await?;
    browser.follow_in("li.meetup-card", TITLE).await?;
    browser.wait_for_text("main h1", TITLE).await
}
