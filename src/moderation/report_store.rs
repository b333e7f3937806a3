//! All SQL for `moderation_cases`, `reports` and `case_notes`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::report_model::{CAP_WINDOW, CaseStatus, Category, DAILY_CAP, NewReport, TargetKind};
use crate::invitations::store::NoShow;
use crate::web::bidi::isolate;

/// What a case is about, as every list shows it: the kind, and the columns that name it (only
/// those of its kind are set).
#[derive(Clone, Debug)]
pub struct Target {
    pub kind: TargetKind,
    pub id: i64,
    /// The profile's owner, or the member whose photo it is.
    pub member_handle: Option<String>,
    pub member_name: Option<String>,
    pub venue_name: Option<String>,
    pub venue_city: Option<String>,
    pub meetup_title: Option<String>,
}

impl Target {
    /// A name or title for it, what members typed marked with `isolate` for the page to show
    /// each in a `<bdi>`.
    pub fn name(&self) -> String {
        match self.kind {
            TargetKind::Member => match (&self.member_name, &self.member_handle) {
                (Some(name), Some(handle)) => format!("{} (@{handle})", isolate(name)),
                _ => "a former member".to_owned(),
            },
            TargetKind::Invitation => format!("Coffee invitation {}", self.id),
            TargetKind::Venue => match (&self.venue_name, &self.venue_city) {
                (Some(name), Some(city)) => format!("{}, {}", isolate(name), isolate(city)),
                _ => format!("Venue {}", self.id),
            },
            TargetKind::Meetup => self.meetup_title.as_deref().map_or_else(|| format!("Meetup {}", self.id), isolate),
            TargetKind::Photo => match (&self.member_name, &self.member_handle) {
                (Some(name), Some(handle)) => format!("Photo of {} (@{handle})", isolate(name)),
                _ => format!("Photo {}", self.id),
            },
        }
    }

    /// Whether `name` already names the member the case is about.
    pub fn names_subject(&self) -> bool {
        matches!(self.kind, TargetKind::Member | TargetKind::Photo)
    }

    /// Where an admin looks at it. Admins cannot open other members' invitations: the case
    /// page shows the invitation's notes instead.
    pub fn admin_link(&self) -> Option<String> {
        match self.kind {
            TargetKind::Member | TargetKind::Photo => {
                self.member_handle.as_ref().map(|h| format!("/admin/members/{h}"))
            }
            TargetKind::Invitation => None,
            TargetKind::Venue => {
                self.venue_city.as_ref().map(|c| format!("/venues?city={}", crate::web::forms::encode_query_value(c)))
            }
            TargetKind::Meetup => Some(format!("/meetups/{}", self.id)),
        }
    }

    /// Where the reporter finds it again.
    pub fn member_link(&self) -> Option<String> {
        match self.kind {
            TargetKind::Member | TargetKind::Photo => self.member_handle.as_ref().map(|h| format!("/m/{h}")),
            TargetKind::Invitation => Some(format!("/invitations/{}", self.id)),
            TargetKind::Venue => self.admin_link(),
            TargetKind::Meetup => Some(format!("/meetups/{}", self.id)),
        }
    }
}

/// A query whose `from` (ending with the case as `c`) is followed by the joins that name the
/// case's target (`tm`, `tv`, `tx`), and then by `$tail`.
macro_rules! query_with_target {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query!(
            $head
                // A photo's case names its member (the subject): the photo may be gone.
                + " left join members tm
                      on tm.id = case c.target_kind when 'member' then c.target_id when 'photo' then c.subject_id end
                    left join venues tv on c.target_kind = 'venue' and tv.id = c.target_id
                    left join meetups tx on c.target_kind = 'meetup' and tx.id = c.target_id "
                + $tail
            $(, $arg)*
        )
    };
}

/// Builds a `Target` from a row with the target columns of `query_with_target!`.
macro_rules! target_of {
    ($row:expr) => {
        Target {
            kind: $row.target_kind,
            id: $row.target_id,
            member_handle: $row.member_handle,
            member_name: $row.member_name,
            venue_name: $row.venue_name,
            venue_city: $row.venue_city,
            meetup_title: $row.meetup_title,
        }
    };
}

// ---- Filing a report ----

/// An active member a report can be about, by id.
#[derive(Clone, Debug)]
pub struct ReportableMember {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
}

/// An active member by id; hidden and suspended members are nobody's to see.
pub async fn find_reportable_member(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<ReportableMember>> {
    sqlx::query_as!(
        ReportableMember,
        "select id, handle, display_name
         from members
         where id = $1 and status = 'active'",
        id
    )
    .fetch_optional(db)
    .await
}

/// Active member `member`, when their current photo is `photo`: the only photos members see.
/// (A portrait the demo seed drew is several members' photo, so the member is named too.)
pub async fn find_member_showing_photo(
    db: impl PgExecutor<'_>,
    member: i64,
    photo: i64,
) -> sqlx::Result<Option<ReportableMember>> {
    sqlx::query_as!(
        ReportableMember,
        "select id, handle, display_name
         from members
         where id = $1 and photo_id = $2 and status = 'active'",
        member,
        photo
    )
    .fetch_optional(db)
    .await
}

/// Locks a reported photo `for share` while its report is filed, if it is still an active
/// member's current photo. A replacement deleting it (`photos::store::forget`) waits for the
/// case and then keeps the photo for it; one that got there first leaves nothing to lock.
pub async fn lock_shown_photo(conn: &mut PgConnection, photo: i64) -> sqlx::Result<bool> {
    let locked = sqlx::query_scalar!(
        "select p.id
         from photos p
         where p.id = $1
           and exists (select 1 from members m where m.photo_id = p.id and m.status = 'active')
         for share of p",
        photo
    )
    .fetch_optional(conn)
    .await?;
    Ok(locked.is_some())
}

/// An approved venue's name and city: the only venues members see.
pub async fn find_reportable_venue(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<(String, String)>> {
    let row = sqlx::query!(
        "select name, city
         from venues
         where id = $1 and status = 'approved'",
        id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.name, r.city)))
}

/// When `reporter` may file again, if they have filed `DAILY_CAP` reports in the window: the
/// oldest of their last `DAILY_CAP` reports, plus the window. Exact only under the reporter's
/// row lock (`members::store::lock_member`), which the filing transaction takes first.
pub async fn find_cap_lift(db: impl PgExecutor<'_>, reporter: i64) -> sqlx::Result<Option<DateTime<Utc>>> {
    let window_secs = CAP_WINDOW.num_seconds() as f64;
    let oldest = sqlx::query_scalar!(
        "select created_at
         from reports
         where reporter_id = $1 and created_at > now() - make_interval(secs => $2)
         order by created_at desc
         offset $3::bigint - 1
         limit 1",
        reporter,
        window_secs,
        DAILY_CAP
    )
    .fetch_optional(db)
    .await?;
    Ok(oldest.map(super::report_model::cap_lifts_at))
}

/// The open case of the target, or a new one. One statement, so two reports at once of one
/// target meet on the partial unique index `moderation_cases_one_open` and share a case; the
/// no-op update is there so that `returning` gives the existing case (and locks it until the
/// report is in, so a decision waits for it).
pub async fn open_case(
    conn: &mut PgConnection,
    kind: TargetKind,
    target_id: i64,
    subject: Option<i64>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into moderation_cases (target_kind, target_id, subject_id)
         values ($1, $2, $3)
         on conflict (target_kind, target_id) where status = 'open'
         do update set subject_id = coalesce(moderation_cases.subject_id, excluded.subject_id)
         returning id",
        kind as TargetKind,
        target_id,
        subject
    )
    .fetch_one(conn)
    .await
}

pub async fn insert_report(conn: &mut PgConnection, case: i64, reporter: i64, report: &NewReport) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into reports (case_id, reporter_id, category, details)
         values ($1, $2, $3, $4)
         returning id",
        case,
        reporter,
        report.category as Category,
        report.details
    )
    .fetch_one(conn)
    .await
}

// ---- The reporter's own reports ----

/// One of a member's own reports, with how its case stands. Nothing about other reporters.
#[derive(Clone, Debug)]
pub struct MyReport {
    pub id: i64,
    pub category: Category,
    pub details: String,
    pub created_at: DateTime<Utc>,
    pub status: CaseStatus,
    pub outcome: String,
    pub closed_at: Option<DateTime<Utc>>,
    pub target: Target,
}

macro_rules! select_my_reports {
    ($tail:literal, $($arg:expr),* $(,)?) => {
        query_with_target!(
            r#"select r.id, r.category as "category: Category", r.details, r.created_at,
                      c.status as "status: CaseStatus", c.outcome, c.closed_at,
                      c.target_kind as "target_kind: TargetKind", c.target_id,
                      tm.handle as "member_handle?", tm.display_name as "member_name?",
                      tv.name as "venue_name?", tv.city as "venue_city?", tx.title as "meetup_title?"
               from reports r
               join moderation_cases c on c.id = r.case_id "#,
            $tail,
            $($arg),*
        )
    };
}

/// A row of `select_my_reports!` as a `MyReport` (the rows are anonymous records, one type
/// per query, so this is a macro rather than a function).
macro_rules! my_report {
    ($r:expr) => {{
        let r = $r;
        MyReport {
            id: r.id,
            category: r.category,
            details: r.details,
            created_at: r.created_at,
            status: r.status,
            outcome: r.outcome,
            closed_at: r.closed_at,
            target: target_of!(r),
        }
    }};
}

/// A member's reports, newest first (the latest 200).
pub async fn list_reports_of(db: impl PgExecutor<'_>, reporter: i64) -> sqlx::Result<Vec<MyReport>> {
    let rows =
        select_my_reports!("where r.reporter_id = $1 order by r.id desc limit 200", reporter).fetch_all(db).await?;
    Ok(rows.into_iter().map(|r| my_report!(r)).collect())
}

/// One of `reporter`'s reports; anyone else's is `None`.
pub async fn find_report_of(db: impl PgExecutor<'_>, reporter: i64, id: i64) -> sqlx::Result<Option<MyReport>> {
    let row = select_my_reports!("where r.id = $1 and r.reporter_id = $2", id, reporter).fetch_optional(db).await?;
    Ok(row.map(|r| my_report!(r)))
}

// ---- The admins' queue ----

/// A case in the queue.
#[derive(Clone, Debug)]
pub struct QueuedCase {
    pub id: i64,
    pub target: Target,
    pub subject_handle: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub outcome: String,
    pub reports: i64,
    pub categories: Vec<Category>,
}

/// Cases in one state, newest first, older than `before` (the last id of the previous page):
/// `moderation_cases_queue` in order, and each case's reports through `reports_case`.
pub async fn list_cases(
    db: impl PgExecutor<'_>,
    status: CaseStatus,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<QueuedCase>> {
    let rows = query_with_target!(
        r#"select c.id, c.opened_at, c.closed_at, c.outcome, s.handle as "subject_handle?",
                  c.target_kind as "target_kind: TargetKind", c.target_id,
                  tm.handle as "member_handle?", tm.display_name as "member_name?",
                  tv.name as "venue_name?", tv.city as "venue_city?", tx.title as "meetup_title?",
                  r.reports as "reports!", r.categories as "categories!: Vec<String>"
           from moderation_cases c
           left join members s on s.id = c.subject_id "#,
        r#"cross join lateral (
               select count(*) as reports,
                      coalesce(array_agg(distinct category::text), '{}') as categories
               from reports
               where case_id = c.id
           ) r
           where c.status = $1 and ($2::bigint is null or c.id < $2)
           order by c.id desc
           limit $3"#,
        status as CaseStatus,
        before,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut categories: Vec<Category> = r.categories.iter().filter_map(|c| Category::from_value(c)).collect();
            categories.sort_by_key(|c| Category::ALL.iter().position(|a| a == c));
            QueuedCase {
                id: r.id,
                subject_handle: r.subject_handle,
                opened_at: r.opened_at,
                closed_at: r.closed_at,
                outcome: r.outcome,
                reports: r.reports,
                categories,
                target: target_of!(r),
            }
        })
        .collect())
}

/// One case, for its page.
#[derive(Clone, Debug)]
pub struct Case {
    pub id: i64,
    pub target: Target,
    pub status: CaseStatus,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by_handle: Option<String>,
    pub outcome: String,
    pub subject: Option<Subject>,
    /// For an invitation: its two people and what each wrote.
    pub invitation: Option<InvitationText>,
    /// For a photo: whether it is still stored, and still its member's photo.
    pub photo: Option<CasePhoto>,
}

/// The reported photo as it stands now.
#[derive(Clone, Copy, Debug)]
pub struct CasePhoto {
    pub id: i64,
    /// Still stored. A photo replaced while its case is open is kept until the case closes;
    /// a deleted account's photos go with it.
    pub kept: bool,
    /// Still the member's current photo, which the admin can remove.
    pub current: bool,
}

/// Whom a case is about.
#[derive(Clone, Debug)]
pub struct Subject {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    /// As text, so that a state added to `member_status` later still reads.
    pub status: String,
}

#[derive(Clone, Debug)]
pub struct InvitationText {
    pub inviter_handle: String,
    pub invitee_handle: String,
    pub note: String,
    pub closing_note: String,
}

pub async fn find_case(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Case>> {
    let row = query_with_target!(
        r#"select c.id, c.status as "status: CaseStatus", c.opened_at, c.closed_at, c.outcome,
                  cb.handle as "closed_by_handle?",
                  s.id as "subject_id?", s.handle as "subject_handle?", s.display_name as "subject_name?",
                  s.status::text as "subject_status?",
                  c.target_kind as "target_kind: TargetKind", c.target_id,
                  tm.handle as "member_handle?", tm.display_name as "member_name?",
                  tv.name as "venue_name?", tv.city as "venue_city?", tx.title as "meetup_title?",
                  ir.handle as "inviter_handle?", ie.handle as "invitee_handle?",
                  ti.note as "invitation_note?", ti.closing_note as "invitation_closing_note?",
                  tp.id is not null as "photo_kept!", s.photo_id is not distinct from c.target_id as "photo_current!"
           from moderation_cases c
           left join members cb on cb.id = c.closed_by
           left join members s on s.id = c.subject_id
           left join invitations ti on c.target_kind = 'invitation' and ti.id = c.target_id
           left join members ir on ir.id = ti.inviter_id
           left join members ie on ie.id = ti.invitee_id
           left join photos tp on c.target_kind = 'photo' and tp.id = c.target_id "#,
        "where c.id = $1",
        id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| {
        let subject = match (r.subject_id, r.subject_handle, r.subject_name, r.subject_status) {
            (Some(id), Some(handle), Some(display_name), Some(status)) => {
                Some(Subject { id, handle, display_name, status })
            }
            _ => None,
        };
        let invitation = match (r.inviter_handle, r.invitee_handle) {
            (Some(inviter_handle), Some(invitee_handle)) => Some(InvitationText {
                inviter_handle,
                invitee_handle,
                note: r.invitation_note.unwrap_or_default(),
                closing_note: r.invitation_closing_note.unwrap_or_default(),
            }),
            _ => None,
        };
        let photo = (r.target_kind == TargetKind::Photo).then_some(CasePhoto {
            id: r.target_id,
            kept: r.photo_kept,
            current: r.photo_current,
        });
        Case {
            id: r.id,
            status: r.status,
            opened_at: r.opened_at,
            closed_at: r.closed_at,
            closed_by_handle: r.closed_by_handle,
            outcome: r.outcome,
            subject,
            invitation,
            photo,
            target: target_of!(r),
        }
    }))
}

/// A report as admins see it: who sent it, too.
#[derive(Clone, Debug)]
pub struct CaseReport {
    pub id: i64,
    pub reporter_handle: String,
    pub category: Category,
    pub details: String,
    pub created_at: DateTime<Utc>,
}

pub async fn list_case_reports(db: impl PgExecutor<'_>, case: i64) -> sqlx::Result<Vec<CaseReport>> {
    sqlx::query_as!(
        CaseReport,
        r#"select r.id, m.handle as reporter_handle, r.category as "category: Category", r.details, r.created_at
           from reports r
           join members m on m.id = r.reporter_id
           where r.case_id = $1
           order by r.id"#,
        case
    )
    .fetch_all(db)
    .await
}

#[derive(Clone, Debug)]
pub struct CaseNote {
    pub id: i64,
    pub author_handle: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

pub async fn list_case_notes(db: impl PgExecutor<'_>, case: i64) -> sqlx::Result<Vec<CaseNote>> {
    sqlx::query_as!(
        CaseNote,
        "select n.id, m.handle as author_handle, n.body, n.created_at
         from case_notes n
         join members m on m.id = n.author_id
         where n.case_id = $1
         order by n.id",
        case
    )
    .fetch_all(db)
    .await
}

pub async fn insert_case_note(conn: &mut PgConnection, case: i64, author: i64, body: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into case_notes (case_id, author_id, body) values ($1, $2, $3) returning id",
        case,
        author,
        body
    )
    .fetch_one(conn)
    .await
}

/// Another case about the same member, for the subject's history.
#[derive(Clone, Debug)]
pub struct EarlierCase {
    pub id: i64,
    pub target: Target,
    pub status: CaseStatus,
    pub opened_at: DateTime<Utc>,
    pub outcome: String,
    pub reports: i64,
}

/// The other cases about `subject`, newest first (the latest 50), through
/// `moderation_cases_subject`.
pub async fn list_cases_about(db: impl PgExecutor<'_>, subject: i64, except: i64) -> sqlx::Result<Vec<EarlierCase>> {
    let rows = query_with_target!(
        r#"select c.id, c.status as "status: CaseStatus", c.opened_at, c.outcome,
                  (select count(*) from reports r where r.case_id = c.id) as "reports!",
                  c.target_kind as "target_kind: TargetKind", c.target_id,
                  tm.handle as "member_handle?", tm.display_name as "member_name?",
                  tv.name as "venue_name?", tv.city as "venue_city?", tx.title as "meetup_title?"
           from moderation_cases c "#,
        "where c.subject_id = $1 and c.id <> $2
         order by c.id desc
         limit 50",
        subject,
        except
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| EarlierCase {
            id: r.id,
            status: r.status,
            opened_at: r.opened_at,
            outcome: r.outcome,
            reports: r.reports,
            target: target_of!(r),
        })
        .collect())
}

/// Coffees `member` agreed to and, the other side says, did not come to (latest first).
pub async fn list_invitation_no_shows_of(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<Vec<NoShow>> {
    sqlx::query_as!(
        NoShow,
        r#"select i.id as invitation_id,
                  case when i.inviter_id = $1 then e.handle else r.handle end as "reporter_handle!",
                  case when i.inviter_id = $1 then r.handle else e.handle end as "absent_handle!",
                  v.name as venue_name, i.accepted_time as "accepted_time!"
           from invitations i
           join members r on r.id = i.inviter_id
           join members e on e.id = i.invitee_id
           join venues v on v.id = i.venue_id
           where i.state = 'held'
             and ((i.inviter_id = $1 and i.invitee_answer = 'no_show')
                  or (i.invitee_id = $1 and i.inviter_answer = 'no_show'))
           order by i.accepted_time desc
           limit 100"#,
        member
    )
    .fetch_all(db)
    .await
}

// ---- Deciding ----

/// A case as a decision or a note needs it.
#[derive(Clone, Copy, Debug)]
pub struct LockedCase {
    pub status: CaseStatus,
    pub subject: Option<i64>,
    pub kind: TargetKind,
    pub target_id: i64,
}

/// Locks the case until the transaction ends; `None` when there is no such case. A decision
/// and a note take this lock first, so two admins at once are served one after the other and
/// the second sees the first's decision.
pub async fn lock_case(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<LockedCase>> {
    sqlx::query_as!(
        LockedCase,
        r#"select status as "status: CaseStatus", subject_id as subject, target_kind as "kind: TargetKind", target_id
           from moderation_cases
           where id = $1
           for update"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// The case's reports, counted after its lock: a report filed before the lock is counted.
pub async fn count_case_reports(conn: &mut PgConnection, id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count(*) as "n!" from reports where case_id = $1"#, id).fetch_one(conn).await
}

/// Closes an open case; `false` when it was not open.
pub async fn close_case(
    conn: &mut PgConnection,
    id: i64,
    status: CaseStatus,
    admin: i64,
    outcome: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update moderation_cases
         set status = $2, closed_at = now(), closed_by = $3, outcome = $4
         where id = $1 and status = 'open'",
        id,
        status as CaseStatus,
        admin,
        outcome
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
