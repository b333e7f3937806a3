//! The invitations' background job: expires invitations whose every time passed unanswered,
//! and turns agreed coffees whose hour is over into "did you meet?" questions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::model::{Action, Invitation, Side, State};
use super::{notices, store};
use crate::notify::model::Kind;
use crate::shutdown::Shutdown;

/// How many invitations one transaction moves.
const BATCH: i64 = 100;

/// Moves every invitation that is due at `now`, a batch per transaction. Returns how many
/// expired and how many were held. Safe to run on several servers at once: rows are taken with
/// `skip locked`, and each move is checked against the state machine.
pub async fn advance_due(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<(u64, u64)> {
    let (mut expired, mut held) = (0, 0);
    loop {
        let mut tx = pool.begin().await?;
        let due = store::lock_due_invitations(&mut tx, now, BATCH).await?;
        if due.is_empty() {
            return Ok((expired, held));
        }
        for invitation in &due {
            let action = if invitation.state == State::Accepted { Action::Hold } else { Action::Expire };
            if move_by_job(&mut tx, invitation, action).await? {
                if action == Action::Hold {
                    held += 1;
                } else {
                    expired += 1;
                }
            }
        }
        tx.commit().await?;
    }
}

/// Applies a job's move (expire or hold) and tells both sides. The due query chooses only rows
/// the move applies to; asking the state machine as well keeps it the one judge of moves, and
/// a refusal (false) means the two disagree, so nothing is written.
async fn move_by_job(conn: &mut PgConnection, invitation: &Invitation, action: Action) -> sqlx::Result<bool> {
    let Ok(next) = invitation.state.next(action, None) else {
        return Ok(false);
    };
    let change = store::Change {
        state: next,
        proposed_times: &invitation.proposed_times,
        proposed_by: invitation.proposed_by,
        accepted_time: invitation.accepted_time,
        closing_note: "",
        closed_by: None,
    };
    store::update_invitation(&mut *conn, invitation.id, &change).await?;
    let kind = if action == Action::Hold { Kind::DidYouMeet } else { Kind::InvitationExpired };
    let moved = Invitation { state: next, ..invitation.clone() };
    for (to, side) in [(invitation.inviter_id, Side::Inviter), (invitation.invitee_id, Side::Invitee)] {
        crate::notify::store::record(&mut *conn, to, &notices::notice(kind, &moved, side)).await?;
    }
    Ok(true)
}

/// Runs `advance_due` every minute until shutdown.
pub async fn run(pool: PgPool, mut shutdown: Shutdown) {
    let mut every_minute = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = every_minute.tick() => {}
            () = shutdown.wait() => return,
        }
        match advance_due(&pool, Utc::now()).await {
            Ok((0, 0)) => {}
            Ok((expired, held)) => tracing::info!(expired, held, "moved due invitations"),
            Err(err) => tracing::warn!(error = %err, "could not move due invitations"),
        }
    }
}
