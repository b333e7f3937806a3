//! Hostile strings that members type, stored and then shown on a phone: markup that would run
//! a script if it were not escaped, `javascript:` links, a right-to-left override, and
//! unbroken words as long as each column holds. On every page that shows them, in a 390 px
//! wide Chromium: no script ran, no `javascript:` address and no event handler is in the DOM,
//! the text reads as typed, and nothing is wider than the screen. A right-to-left override
//! stays inside the member's own text: each text node holding one is that text alone, in an
//! element that isolates it, so Cuppa's words around it are not turned around (the tab's
//! title, text only, isolates it with U+2068 and U+2069).
//!
//! Two rounds over the same rows. Markup: typed through the forms (the interests through SQL,
//! since the form refuses `<` and `"` in a tag). Then a right-to-left override and a long
//! word, written with SQL: every form refuses the override (it names the invisible
//! character) and caps its fields far below 10,000 characters. Each value is as long as the
//! column allows (10,000 where nothing in the schema caps it, the check constraint's limit
//! elsewhere), as rows written before those checks existed, or by another client, could be.
//! Every page is also saved as a screenshot under `target/browser-hostile/` to look at.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use cuppa::seed::{ADMIN_HANDLE, DEMO_HANDLE, DEMO_PASSWORD};
use serde_json::Value;
use sqlx::PgPool;

use crate::a11y::file_report;
use crate::driver::{Browser, PHONE};
use crate::served::{Options, Served};
use crate::test_db;

const SCRIPT: &str = r#""><script>window.__pwned=1</script>"#;
const IMAGE: &str = r#"<img src=x onerror="window.__pwned=1">"#;
/// A right-to-left override: what follows reads backwards ("now" shows as "won").
const RIGHT_TO_LEFT: &str = "\u{202E}won ";
const JAVASCRIPT: &str = "javascript:window.__pwned=1";
/// A web address, which a meetup's description turns into a link, that tries to close the
/// `href` early and add a handler.
const ADDRESS_ESCAPE: &str = r#"https://cuppa.invalid/"onmouseover="window.__pwned=1"#;
/// The longest word tried, where the schema lets a column hold it.
const LONGEST: usize = 10_000;
const JOURNEY: &str = "hostile";

/// A field that members type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    DisplayName,
    Bio,
    City,
    Interest,
    /// An address elsewhere (`name@host`): its format check lets no markup in, only length.
    Address,
    VenueName,
    /// The name of a second venue, which stays waiting for review.
    PendingVenueName,
    MeetupTitle,
    MeetupDescription,
    InvitationNote,
    ReportReason,
}

use Field::*;

impl Field {
    const ALL: [Field; 11] = [
        DisplayName,
        Bio,
        City,
        Interest,
        Address,
        VenueName,
        PendingVenueName,
        MeetupTitle,
        MeetupDescription,
        InvitationNote,
        ReportReason,
    ];

    /// The most characters the markup round puts in it: its form's limit, or none for the
    /// interests (written with SQL) and the address (a value of its own).
    fn form_limit(self) -> usize {
        match self {
            DisplayName | City => 80,
            VenueName | PendingVenueName | MeetupTitle => 120,
            Bio | InvitationNote => 500,
            ReportReason => 2_000,
            MeetupDescription => 4_000,
            Interest | Address => LONGEST,
        }
    }

    /// The most characters the column holds (its check constraint), up to `LONGEST`.
    fn column_limit(self) -> usize {
        match self {
            DisplayName => 80,
            VenueName | PendingVenueName | MeetupTitle => 120,
            Bio | InvitationNote => 500,
            ReportReason => 2_000,
            MeetupDescription => 4_000,
            City | Interest | Address => LONGEST,
        }
    }

    /// A letter of its own, so that one field's value is never found in another's.
    fn letter(self) -> char {
        match self {
            DisplayName => 'N',
            Bio => 'B',
            City => 'C',
            Interest => 'I',
            Address => 'A',
            VenueName => 'V',
            PendingVenueName => 'P',
            MeetupTitle => 'T',
            MeetupDescription => 'D',
            InvitationNote => 'O',
            ReportReason => 'R',
        }
    }

    /// The markup round's value: its letter, then every hostile piece its form has room for.
    fn markup(self) -> String {
        if self == Address {
            // The longest address the form takes: 254 characters.
            return format!("{}@example.test", "a".repeat(241));
        }
        let mut value = self.letter().to_string();
        for piece in [SCRIPT, IMAGE, JAVASCRIPT, ADDRESS_ESCAPE] {
            if value.chars().count() + 1 + piece.chars().count() <= self.form_limit() {
                value = format!("{value} {piece}");
            }
        }
        value
    }

    /// The second round's value: the override, then one unbroken word, as long as the column
    /// holds (an address: only the word, as its format check allows).
    fn long_word(self) -> String {
        match self {
            Address => format!("{}@example.test", "a".repeat(LONGEST - "@example.test".len())),
            _ => {
                let word = self.letter().to_string().repeat(self.column_limit() - RIGHT_TO_LEFT.chars().count());
                format!("{RIGHT_TO_LEFT}{word}")
            }
        }
    }
}

/// Who looks at a page.
#[derive(Clone, Copy, Debug)]
enum Viewer {
    /// The demo member, who typed everything.
    Author,
    /// The member the author invited and reported.
    Reader,
    Admin,
}

/// A page and the fields it shows.
struct Shown {
    viewer: Viewer,
    path: String,
    fields: &'static [Field],
}

/// The rows the hostile strings live in, made in the markup round through the forms.
struct Rows {
    author: i64,
    reader: i64,
    reader_handle: String,
    /// Approved, with the meetup and the invitation at it; the other stays pending.
    venue: i64,
    pending_venue: i64,
    meetup: i64,
    invitation: i64,
    report: i64,
    case: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_render_escaped_and_within_a_phone_screen() {
    let (pool, url) = test_db::fresh_database().await;
    let server = Served::start(Options { database_url: Some(&url), serve_args: &["--demo", "--no-jobs"], env: &[] });
    let author = Browser::start(&server.base, PHONE).await;
    let reader = Browser::start(&server.base, PHONE).await;
    let admin = Browser::start(&server.base, PHONE).await;

    let markup: BTreeMap<Field, String> = Field::ALL.iter().map(|&f| (f, f.markup())).collect();
    let rows = type_through_forms(&pool, &author, &admin, &markup).await;
    reader.step(JOURNEY, "the reader logs in", reader.log_in(&rows.reader_handle, DEMO_PASSWORD)).await;

    let pages = pages(&rows);
    let mut shots = Screenshots::new();
    let mut problems = check_pages(&pages, [&author, &reader, &admin], &markup, "markup", &mut shots).await;

    let long: BTreeMap<Field, String> = Field::ALL.iter().map(|&f| (f, f.long_word())).collect();
    write_with_sql(&pool, &rows, &markup, &long).await.expect("the long words are stored");
    problems.extend(check_pages(&pages, [&author, &reader, &admin], &long, "long", &mut shots).await);

    author.quit().await;
    reader.quit().await;
    admin.quit().await;
    println!("{} page views checked at {} px; screenshots in {}", shots.taken, PHONE.0, shots.dir.display());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The markup round, as members do it: the author saves a profile (first, so that what is
/// written later, such as the reader's notifications, carries the name), proposes two venues
/// in their old city (the admin approves one), posts a meetup there, invites the reader
/// there with a note and reports the reader. Interests go in with SQL: the form refuses
/// markup in a tag.
async fn type_through_forms(
    pool: &PgPool,
    author: &Browser,
    admin: &Browser,
    values: &BTreeMap<Field, String>,
) -> Rows {
    let (author_id, city): (i64, String) = sqlx::query_as("select id, city from members where handle = $1")
        .bind(DEMO_HANDLE)
        .fetch_one(pool)
        .await
        .unwrap();
    // Someone in the author's city whom the author has never invited nor been invited by.
    let (reader_id, reader_handle): (i64, String) = sqlx::query_as(
        "select m.id, m.handle from members m
         where m.city = $2 and m.id <> $1 and m.status = 'active' and m.invite_policy = 'anyone' and m.role = 'member'
           and not exists (select from invitations i where $1 in (i.inviter_id, i.invitee_id) and m.id in (i.inviter_id, i.invitee_id))
           and not exists (select from blocks b where (b.blocker_id, b.blocked_id) in (($1, m.id), (m.id, $1)))
         order by m.id limit 1",
    )
    .bind(author_id)
    .bind(&city)
    .fetch_one(pool)
    .await
    .expect("a member to invite");
    let value = |field: Field| values[&field].clone();

    author
        .step(JOURNEY, "the author saves a profile", async {
            author.log_in(DEMO_HANDLE, DEMO_PASSWORD).await?;
            author.goto("/settings/profile").await?;
            author.fill("#display_name", &value(DisplayName)).await?;
            author.fill("#bio", &value(Bio)).await?;
            author.fill("#city", &value(City)).await?;
            author.fill("#addresses", &value(Address)).await?;
            author.press("main form", "Save profile").await?;
            author.wait_for_text("main", "Your profile is saved.").await
        })
        .await;
    author
        .step(JOURNEY, "the author proposes two venues", async {
            for (name, address) in [(VenueName, "1 Market Street"), (PendingVenueName, "2 Market Street")] {
                author.goto("/venues/new").await?;
                author.fill("#name", &value(name)).await?;
                author.fill("#address", address).await?;
                author.fill("#city", &city).await?;
                author.press("main form", "Propose this place").await?;
                author.wait_for_text("main", "An admin will review").await?;
            }
            Ok(())
        })
        .await;
    let venues: Vec<i64> = sqlx::query_scalar("select id from venues where proposed_by = $1 order by id")
        .bind(author_id)
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(venues.len(), 2, "the two proposals are stored");
    admin
        .step(JOURNEY, "the admin approves the first", async {
            admin.log_in(ADMIN_HANDLE, DEMO_PASSWORD).await?;
            admin.goto("/admin/venues").await?;
            admin.press(&format!("form[action='/admin/venues/{}/approve']", venues[0]), "Approve").await?;
            admin.wait_for_text("main", "Approved: members can now choose it.").await
        })
        .await;
    author
        .step(JOURNEY, "the author posts a meetup there", async {
            author.goto("/meetups/new").await?;
            author.fill("#title", &value(MeetupTitle)).await?;
            author.fill("#description", &value(MeetupDescription)).await?;
            author.set_value("#venue_id", &venues[0].to_string()).await?;
            let day = (chrono::Utc::now() + chrono::Duration::days(10)).format("%Y-%m-%d");
            author.set_value("#starts_at", &format!("{day}T18:00")).await?;
            author.set_value("#ends_at", &format!("{day}T20:00")).await?;
            author.fill("#capacity", "12").await?;
            author.click("input[name=visibility][value=public]").await?;
            author.press("main form", "Post meetup").await?;
            author.wait_for_text("main", "Your meetup is posted.").await
        })
        .await;
    author
        .step(JOURNEY, "the author invites the reader there", async {
            author.goto(&format!("/m/{reader_handle}/invite")).await?;
            author.click(&format!("input[name=venue_id][value='{}']", venues[0])).await?;
            let day = (chrono::Utc::now() + chrono::Duration::days(5)).format("%Y-%m-%d");
            author.set_value("#time1", &format!("{day}T10:00")).await?;
            author.fill("#note", &value(InvitationNote)).await?;
            author.press("main form", "Send invitation").await?;
            author.wait_for_text("main", "Invitation sent.").await
        })
        .await;
    author.step(JOURNEY, "the author reports the reader", file_report(author, reader_id, &value(ReportReason))).await;
    sqlx::query("update members set interests = array[$2, 'coffee'] where id = $1")
        .bind(author_id)
        .bind(value(Interest))
        .execute(pool)
        .await
        .unwrap();

    let id = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql).bind(author_id).fetch_one(pool).await.expect(sql)
    };
    Rows {
        author: author_id,
        reader: reader_id,
        reader_handle,
        venue: venues[0],
        pending_venue: venues[1],
        meetup: id("select max(id) from meetups where organiser_id = $1").await,
        invitation: id("select max(id) from invitations where inviter_id = $1").await,
        report: id("select max(id) from reports where reporter_id = $1").await,
        case: id("select max(case_id) from reports where reporter_id = $1").await,
    }
}

/// The long round: every field of the same rows becomes its long word, and the texts the
/// reader's notifications were written with (names at the time) are rewritten to match.
async fn write_with_sql(
    pool: &PgPool,
    rows: &Rows,
    before: &BTreeMap<Field, String>,
    after: &BTreeMap<Field, String>,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "update members set display_name = $2, bio = $3, city = $4, interests = array[$5, 'coffee'] where id = $1",
    )
    .bind(rows.author)
    .bind(&after[&DisplayName])
    .bind(&after[&Bio])
    .bind(&after[&City])
    .bind(&after[&Interest])
    .execute(&mut *tx)
    .await
    .context("members")?;
    sqlx::query("update external_addresses set address = $2 where member_id = $1")
        .bind(rows.author)
        .bind(&after[&Address])
        .execute(&mut *tx)
        .await
        .context("addresses")?;
    for (id, name) in [(rows.venue, VenueName), (rows.pending_venue, PendingVenueName)] {
        sqlx::query("update venues set name = $2 where id = $1")
            .bind(id)
            .bind(&after[&name])
            .execute(&mut *tx)
            .await
            .context("venues")?;
    }
    sqlx::query("update meetups set title = $2, description = $3 where id = $1")
        .bind(rows.meetup)
        .bind(&after[&MeetupTitle])
        .bind(&after[&MeetupDescription])
        .execute(&mut *tx)
        .await
        .context("meetups")?;
    sqlx::query("update invitations set note = $2 where id = $1")
        .bind(rows.invitation)
        .bind(&after[&InvitationNote])
        .execute(&mut *tx)
        .await
        .context("invitations")?;
    sqlx::query("update reports set details = $2 where id = $1")
        .bind(rows.report)
        .bind(&after[&ReportReason])
        .execute(&mut *tx)
        .await
        .context("reports")?;
    for field in [DisplayName, VenueName] {
        sqlx::query("update notifications set text = replace(text, $2, $3) where member_id = $1")
            .bind(rows.reader)
            .bind(&before[&field])
            .bind(&after[&field])
            .execute(&mut *tx)
            .await
            .context("notifications")?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every page that shows the author's strings, with the fields each shows.
fn pages(rows: &Rows) -> Vec<Shown> {
    use Viewer::*;
    let shown = |viewer, path: String, fields| Shown { viewer, path, fields };
    vec![
        shown(Reader, format!("/m/{DEMO_HANDLE}"), &[DisplayName, Bio, City, Interest, Address]),
        shown(Reader, format!("/people?q={DEMO_HANDLE}"), &[DisplayName, City, Interest]),
        shown(Reader, "/".to_owned(), &[]),
        shown(Reader, format!("/invitations/{}", rows.invitation), &[DisplayName, VenueName, InvitationNote]),
        shown(Reader, "/invitations".to_owned(), &[DisplayName, VenueName]),
        shown(Reader, "/notifications".to_owned(), &[DisplayName, VenueName]),
        shown(Reader, format!("/meetups/{}", rows.meetup), &[DisplayName, VenueName, MeetupTitle, MeetupDescription]),
        shown(Reader, "/meetups".to_owned(), &[VenueName, MeetupTitle]),
        shown(Reader, "/venues".to_owned(), &[VenueName]),
        shown(Author, "/".to_owned(), &[DisplayName]),
        shown(Author, format!("/m/{DEMO_HANDLE}"), &[DisplayName, Bio, City, Interest, Address]),
        shown(Author, "/settings/profile".to_owned(), &[DisplayName, Bio, City, Address]),
        shown(Author, format!("/invitations/{}", rows.invitation), &[VenueName, InvitationNote]),
        shown(Author, "/organise".to_owned(), &[MeetupTitle]),
        shown(Author, format!("/settings/reports/{}", rows.report), &[ReportReason]),
        shown(Admin, "/admin/venues".to_owned(), &[PendingVenueName]),
        shown(Admin, format!("/admin/members?q={DEMO_HANDLE}"), &[DisplayName]),
        shown(Admin, format!("/admin/members/{DEMO_HANDLE}"), &[DisplayName]),
        shown(Admin, "/admin/audit".to_owned(), &[]),
        shown(Admin, "/admin/reports".to_owned(), &[]),
        shown(Admin, format!("/admin/reports/{}", rows.case), &[ReportReason]),
    ]
}

/// Looks at what each page holds once the browser has built it, in the page: the text (and
/// form fields' values, which are not text), handlers and addresses, and widths.
const INSPECT: &str = r#"
const expected = arguments[0];
const shown = document.body.textContent + '\n' +
  [...document.querySelectorAll('input, textarea')].map(f => f.value).join('\n');
const describe = e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '') +
  ' "' + (e.textContent || '').trim().slice(0, 40) + '"';
const all = [...document.querySelectorAll('*')];
// The layout viewport: on a phone, a page wider than the screen makes the browser zoom out,
// and then window.innerWidth grows with the page while this stays the screen's width.
const width = document.documentElement.clientWidth;
const sticksOut = e => e.getBoundingClientRect().right > width + 0.5;
return {
  pwned: typeof window.__pwned !== 'undefined',
  missing: expected.filter(text => !shown.includes(text)).map(text => text.slice(0, 60)),
  handlers: all.flatMap(e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => describe(e) + ' ' + a.name)),
  javascript: all.flatMap(e => ['href', 'src', 'action', 'formaction'].map(n => e.getAttribute(n)))
    .filter(v => v && /^\s*javascript:/i.test(v)),
  inlineScripts: [...document.scripts].filter(s => !s.src).length,
  scrollWidth: document.documentElement.scrollWidth,
  width,
  wide: all.filter(e => sticksOut(e) && ![...e.children].some(sticksOut)).slice(0, 5).map(describe),
  unisolated: unisolatedOverrides(arguments[1]),
};

// A text node that holds a right-to-left override must be nothing but one member's value,
// inside an element that isolates it (`<bdi>`, `unicode-bidi: isolate`, or a block, which
// HTML's own style sheet isolates) and holds nothing else: otherwise the override runs on past
// the member's text and reverses Cuppa's own words around it. Asking only for an isolating
// element would pass `<p>Met [override]Name in person?</p>`. A textarea's text is a paragraph
// of its own, which nothing else shares.
function unisolatedOverrides(values) {
  const isolating = e => ['isolate', 'isolate-override', 'plaintext'].includes(getComputedStyle(e).unicodeBidi);
  const shorten = html => html.replace(/\u202E/g, '[RLO]').replace(/([A-Z])\1{20,}/g, '$1$1$1…').slice(0, 200);
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.data.includes('\u202E') || node.parentElement.closest('textarea')) continue;
    const text = node.data.trim();
    let e = node.parentElement;
    while (e && !isolating(e) && e.textContent.trim() === text) e = e.parentElement;
    if (!values.includes(text) || !e || !isolating(e) || e.textContent.trim() !== text) {
      found.push(shorten(node.parentElement.outerHTML));
    }
  }
  // The tab's title is text only: there the override must be closed in by U+2068 and U+2069.
  if (document.title.replace(/\u2068[^\u2068\u2069]*\u2069/g, '').includes('\u202E')) {
    found.push(shorten('<title>' + document.title));
  }
  return found;
}"#;

/// Opens each page as its viewer, saves a screenshot and returns what is wrong, a line each.
async fn check_pages(
    pages: &[Shown],
    [author, reader, admin]: [&Browser; 3],
    values: &BTreeMap<Field, String>,
    round: &str,
    shots: &mut Screenshots,
) -> Vec<String> {
    let mut problems = Vec::new();
    // Every value of the round: a text node that holds an override must be one of them, whole.
    let all: Value = values.values().map(|v| Value::from(v.as_str())).collect();
    for page in pages {
        let browser = match page.viewer {
            Viewer::Author => author,
            Viewer::Reader => reader,
            Viewer::Admin => admin,
        };
        let expected: Vec<Value> = page.fields.iter().map(|f| Value::from(values[f].as_str())).collect();
        let label = format!("{round}: {:?} on {}", page.viewer, page.path);
        let mut found = Value::Null;
        browser
            .step(JOURNEY, &label, async {
                browser.goto(&page.path).await?;
                shots.take(browser, &label).await?;
                found = browser.driver.execute(INSPECT, vec![Value::from(expected), all.clone()]).await?.json().clone();
                Ok(())
            })
            .await;
        let mut wrong = Vec::new();
        if found["pwned"] == true {
            wrong.push("a script ran (window.__pwned is set)".to_owned());
        }
        for (key, what) in [
            ("missing", "not shown as typed"),
            ("handlers", "event handler in the DOM"),
            ("javascript", "javascript: address in the DOM"),
            ("unisolated", "right-to-left override not isolated from the words around it"),
        ] {
            for item in found[key].as_array().into_iter().flatten() {
                wrong.push(format!("{what}: {item}"));
            }
        }
        if found["inlineScripts"] != 0 {
            wrong.push(format!("{} inline scripts in the DOM", found["inlineScripts"]));
        }
        if found["scrollWidth"].as_u64() > found["width"].as_u64() {
            wrong.push(format!(
                "{} px wide on a {} px screen; widest: {}",
                found["scrollWidth"], found["width"], found["wide"]
            ));
        }
        problems.extend(wrong.into_iter().map(|w| format!("{label}: {w}")));
    }
    problems
}

/// A screenshot of every page checked, numbered in order, to look at.
struct Screenshots {
    dir: PathBuf,
    taken: usize,
}

impl Screenshots {
    fn new() -> Screenshots {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("browser-hostile");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for screenshots");
        Screenshots { dir, taken: 0 }
    }

    async fn take(&mut self, browser: &Browser, label: &str) -> anyhow::Result<()> {
        let name: String =
            label.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        self.taken += 1;
        let path = self.dir.join(format!("{:02}-{name}.png", self.taken));
        browser.driver.screenshot(&path).await.with_context(|| format!("screenshot {}", path.display()))
    }
}
