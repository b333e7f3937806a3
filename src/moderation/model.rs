//! The dashboard's chart, worked out on the server: plain numbers for an inline SVG, so the
//! page needs no script and no stylesheet beyond its own (the CSP allows neither inline).

use super::store::Week;

/// The chart's drawing area, in SVG user units (it scales to the page's width).
pub const CHART_WIDTH: i64 = 720;
pub const CHART_HEIGHT: i64 = 220;
/// Room below the bars for the week labels, and above for the largest value.
const LABEL_ROOM: i64 = 28;
const TOP_ROOM: i64 = 16;
/// Where every bar stands.
pub const BASELINE: i64 = CHART_HEIGHT - LABEL_ROOM;

/// One bar of the chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    pub value: i64,
    /// `coffees` or `met`, for the fill (presentation attributes, not inline styles).
    pub series: &'static str,
}

/// One week's place on the chart: its bars and its label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub label: String,
    pub label_x: i64,
    pub bars: Vec<Bar>,
}

/// Two bars a week, coffees agreed and pairs who met, on one scale; the scale's top is the
/// largest value (at least 1, so an empty chart is flat rather than undefined).
pub fn chart(weeks: &[Week]) -> Vec<Column> {
    let top = weeks.iter().flat_map(|w| [w.coffees, w.met]).max().unwrap_or(0).max(1);
    let slot = CHART_WIDTH / (weeks.len().max(1) as i64);
    let bar_width = (slot - 8) / 2;
    let plot = BASELINE - TOP_ROOM;
    weeks
        .iter()
        .enumerate()
        .map(|(i, week)| {
            let left = i as i64 * slot + 4;
            let bar = |offset: i64, value: i64, series| {
                let height = value * plot / top;
                Bar { x: left + offset, y: BASELINE - height, width: bar_width, height, value, series }
            };
            Column {
                label: week.starts.format("%-d %b").to_string(),
                label_x: left + bar_width,
                bars: vec![bar(0, week.coffees, "coffees"), bar(bar_width, week.met, "met")],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn week(day: u32, coffees: i64, met: i64) -> Week {
        Week { starts: Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap(), joined: 0, coffees, met }
    }

    #[test]
    fn the_largest_value_fills_the_plot_and_bars_stand_on_one_base() {
        let columns = chart(&[week(16, 10, 5), week(23, 0, 2)]);
        assert_eq!(columns.len(), 2);
        let tallest = &columns[0].bars[0];
        assert_eq!(tallest.height, CHART_HEIGHT - LABEL_ROOM - TOP_ROOM);
        assert_eq!(tallest.y, TOP_ROOM);
        for bar in columns.iter().flat_map(|c| &c.bars) {
            assert_eq!(bar.y + bar.height, CHART_HEIGHT - LABEL_ROOM);
            assert!(bar.x + bar.width <= CHART_WIDTH);
        }
        assert_eq!(columns[1].bars[0].height, 0);
        assert_eq!(columns[0].label, "16 Nov");
    }

    #[test]
    fn an_empty_chart_is_flat() {
        let columns = chart(&[week(16, 0, 0)]);
        assert!(columns[0].bars.iter().all(|b| b.height == 0));
    }
}
