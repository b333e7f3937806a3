//! Venues' types and the rules of the proposal form. Pure: no I/O.

use crate::notify::model::{Kind, Notice};
use crate::web::FieldErrors;
use crate::web::bidi::isolate;
use crate::web::forms::TextField;

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "venue_status", rename_all = "lowercase")]
pub enum VenueStatus {
    Pending,
    Approved,
    Rejected,
}

/// A venue as lists show it.
#[derive(Clone, Debug)]
pub struct Venue {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub city: String,
    pub time_zone: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub step_free: bool,
    pub quiet: bool,
    pub notes: String,
    /// Who proposed it, when they still have an account.
    pub proposed_by: Option<String>,
}

impl Venue {
    /// A map link when the venue has coordinates (OpenStreetMap, built from numbers only).
    pub fn map_url(&self) -> Option<String> {
        match (self.latitude, self.longitude) {
            (Some(lat), Some(lon)) => {
                Some(format!("https://www.openstreetmap.org/?mlat={lat:.5}&mlon={lon:.5}#map=18/{lat:.5}/{lon:.5}"))
            }
            _ => None,
        }
    }
}

/// What the member who proposed a place is told of the admins' decision. The name and city
/// are marked with `isolate`, so that their direction cannot turn the sentence around them.
pub fn decision_notice(name: &str, city: &str, decision: VenueStatus) -> Notice {
    let (place, town) = (isolate(name), isolate(city));
    let (kind, text, link) = if decision == VenueStatus::Approved {
        (
            Kind::VenueApproved,
            format!("{place} in {town} is approved: members can now meet there"),
            format!("/venues?city={}", crate::web::forms::encode_query_value(city)),
        )
    } else {
        (Kind::VenueRejected, format!("{place} in {town} was not approved as a place to meet"), "/venues".to_owned())
    };
    let body = format!(
        "{text}.\n\nThank you for proposing it. Admins approve public places where two people can talk easily."
    );
    // News from the admins, about no member in particular.
    Notice { kind, text, body, link, actor: None }
}

/// The proposal form, as typed. Unticked checkboxes are absent.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct VenueForm {
    pub name: String,
    pub address: String,
    pub city: String,
    pub time_zone: String,
    #[serde(default)]
    pub latitude: String,
    #[serde(default)]
    pub longitude: String,
    pub step_free: Option<String>,
    pub quiet: Option<String>,
    #[serde(default)]
    pub notes: String,
}

/// A checked proposal.
#[derive(Clone, Debug, PartialEq)]
pub struct NewVenue {
    pub name: String,
    pub address: String,
    pub city: String,
    pub time_zone: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub step_free: bool,
    pub quiet: bool,
    pub notes: String,
}

fn coordinate(raw: &str, field: &'static str, limit: f64, errors: &mut FieldErrors) -> Option<f64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<f64>() {
        Ok(value) if value.is_finite() && value.abs() <= limit => Some(value),
        _ => {
            errors.add(field, format!("Enter a number between -{limit} and {limit}, such as 51.5074."));
            None
        }
    }
}

impl VenueForm {
    pub fn validate(&self) -> Result<NewVenue, FieldErrors> {
        let mut errors = FieldErrors::default();
        let required =
            |name, max_chars, message| TextField { name, max_chars, multiline: false, required: Some(message) };
        let name = required("name", 120, "Give the place its name.").check(&self.name, &mut errors);
        let address = required("address", 200, "Give the street address.").check(&self.address, &mut errors);
        let city = required("city", 80, "Say which city it is in.").check(&self.city, &mut errors);
        let notes = TextField { name: "notes", max_chars: 300, multiline: true, required: None }
            .check(&self.notes, &mut errors);
        let time_zone = self.time_zone.trim().to_owned();
        if time_zone.parse::<chrono_tz::Tz>().is_err() {
            errors.add("time_zone", "Choose a time zone from the list.");
        }
        let latitude = coordinate(&self.latitude, "latitude", 90.0, &mut errors);
        let longitude = coordinate(&self.longitude, "longitude", 180.0, &mut errors);
        if latitude.is_some() != longitude.is_some()
            && errors.get("latitude").is_none()
            && errors.get("longitude").is_none()
        {
            errors.add("latitude", "Give both coordinates, or neither.");
        }
        errors.into_result(NewVenue {
            name,
            address,
            city,
            time_zone,
            latitude,
            longitude,
            step_free: self.step_free.is_some(),
            quiet: self.quiet.is_some(),
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> VenueForm {
        VenueForm {
            name: "Café Lumen".into(),
            address: "12 Market Street".into(),
            city: "London".into(),
            time_zone: "Europe/London".into(),
            latitude: "51.5074".into(),
            longitude: "-0.1278".into(),
            step_free: Some("on".into()),
            quiet: None,
            notes: "Upstairs is quieter.".into(),
        }
    }

    #[test]
    fn a_complete_proposal_is_accepted() {
        let venue = form().validate().unwrap();
        assert_eq!((venue.latitude, venue.longitude), (Some(51.5074), Some(-0.1278)));
        assert!(venue.step_free && !venue.quiet);
    }

    #[test]
    fn each_field_is_checked() {
        let bad = VenueForm {
            name: " ".into(),
            address: "a".repeat(201),
            city: "".into(),
            time_zone: "Nowhere/Special".into(),
            latitude: "91".into(),
            longitude: "east".into(),
            notes: "x".repeat(301),
            ..form()
        };
        let errors = bad.validate().unwrap_err();
        for field in ["name", "address", "city", "time_zone", "latitude", "longitude", "notes"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn coordinates_come_in_pairs_or_not_at_all() {
        assert!(VenueForm { longitude: "".into(), ..form() }.validate().unwrap_err().get("latitude").is_some());
        let none = VenueForm { latitude: "".into(), longitude: " ".into(), ..form() }.validate().unwrap();
        assert_eq!((none.latitude, none.longitude), (None, None));
        assert!(VenueForm { latitude: "NaN".into(), ..form() }.validate().is_err());
    }

    #[test]
    fn map_links_are_built_from_numbers() {
        let venue = Venue {
            id: 1,
            name: "x".into(),
            address: "y".into(),
            city: "z".into(),
            time_zone: "UTC".into(),
            latitude: Some(51.5),
            longitude: Some(-0.12),
            step_free: false,
            quiet: false,
            notes: String::new(),
            proposed_by: None,
        };
        assert_eq!(
            venue.map_url().unwrap(),
            "https://www.openstreetmap.org/?mlat=51.50000&mlon=-0.12000#map=18/51.50000/-0.12000"
        );
    }
}
