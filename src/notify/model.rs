//! The kinds of event members are told about. Pure: no I/O.

/// One kind of notification; members can turn its emails off (never the in-app notice).
#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[sqlx(type_name = "notification_kind", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    InvitationReceived,
    InvitationCountered,
    InvitationAccepted,
    InvitationDeclined,
    InvitationCancelled,
    InvitationExpired,
    DidYouMeet,
    MetConfirmed,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::InvitationReceived,
        Kind::InvitationCountered,
        Kind::InvitationAccepted,
        Kind::InvitationDeclined,
        Kind::InvitationCancelled,
        Kind::InvitationExpired,
        Kind::DidYouMeet,
        Kind::MetConfirmed,
    ];

    /// The value forms and the database use.
    pub fn value(self) -> &'static str {
        match self {
            Kind::InvitationReceived => "invitation_received",
            Kind::InvitationCountered => "invitation_countered",
            Kind::InvitationAccepted => "invitation_accepted",
            Kind::InvitationDeclined => "invitation_declined",
            Kind::InvitationCancelled => "invitation_cancelled",
            Kind::InvitationExpired => "invitation_expired",
            Kind::DidYouMeet => "did_you_meet",
            Kind::MetConfirmed => "met_confirmed",
        }
    }

    /// How the email settings page names it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::InvitationReceived => "Someone invites me to coffee",
            Kind::InvitationCountered => "Someone proposes other times",
            Kind::InvitationAccepted => "A coffee is agreed",
            Kind::InvitationDeclined => "An invitation is declined",
            Kind::InvitationCancelled => "An invitation or coffee is cancelled",
            Kind::InvitationExpired => "An invitation expires unanswered",
            Kind::DidYouMeet => "After a coffee: did you meet?",
            Kind::MetConfirmed => "We both said we met",
        }
    }
}

/// What one member is told: a line for the notification list (also the email's subject), a
/// longer text for the email, and the page both point to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub kind: Kind,
    pub text: String,
    pub body: String,
    pub link: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_value() {
        let values: std::collections::HashSet<_> = Kind::ALL.iter().map(|k| k.value()).collect();
        assert_eq!(values.len(), Kind::ALL.len());
    }
}
