use super::*;

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn nothing_is_promised_before_a_step_and_the_warm_up_step_counts_only_alone() {
    let mut t = TimeLeft::new(60, None, 1.0);
    assert_eq!(t.seconds_left(0), None);
    t.record(1, 5.0, 1.0);
    assert!(
        close(t.seconds_left(1), 59.0 * 5.0),
        "{:?}",
        t.seconds_left(1)
    );
    for step in 2..=10 {
        t.record(step, 1.0, 0.2);
    }
    assert!(close(t.seconds_left(10), 50.0), "{:?}", t.seconds_left(10));
    assert!(close(t.seconds_left(60), 0.0));
}

/// 60 steps, the first 40 at half size: the VQGAN fifth of a step costs 4× at full size, so
/// full-size steps take 1 + 0.2·3 = 1.6 s, and the estimate at step 10 is the real 62 s
/// (an average over the steps so far would say 50 s, 19% short).
#[test]
fn a_half_size_start_predicts_the_full_size_steps_by_area() {
    let switch_at = 41;
    let mut t = TimeLeft::new(60, Some(switch_at), 4.0);
    t.record(1, 4.0, 1.0);
    for step in 2..=10 {
        t.record(step, 1.0, 0.2);
    }
    let real: f64 = (11..=60)
        .map(|s| if s < switch_at { 1.0 } else { 1.6 })
        .sum();
    assert!((real - 62.0).abs() < 1e-9);
    assert!(close(t.seconds_left(10), real), "{:?}", t.seconds_left(10));
    for step in 11..switch_at {
        t.record(step, 1.0, 0.2);
    }
    assert!(close(t.seconds_left(40), 20.0 * 1.6));
    // The full-size phase is measured afresh. Its first step also pays for the switch, so
    // until a second one is measured the half-size prediction caps it; then the real rate.
    t.record(41, 3.0, 2.0);
    assert!(
        close(t.seconds_left(41), 19.0 * 1.6),
        "{:?}",
        t.seconds_left(41)
    );
    t.record(42, 1.7, 0.9);
    assert!(close(t.seconds_left(42), 18.0 * 1.7));
}

#[test]
fn the_rate_follows_a_machine_that_slows_down_within_the_window() {
    let mut t = TimeLeft::new(1000, None, 1.0);
    for step in 1..=50 {
        t.record(step, 1.0, 0.0);
    }
    for step in 51..=50 + WINDOW {
        t.record(step, 2.0, 0.0);
    }
    let at = 50 + WINDOW;
    assert!(close(t.seconds_left(at), (1000 - at) as f64 * 2.0));
}

/// A run resumed past the switch has no half-size steps to predict from: its first full-size
/// step counts alone, then the measured rate.
#[test]
fn a_run_resumed_past_the_switch_measures_its_full_size_steps() {
    let mut t = TimeLeft::new(60, Some(41), 4.0);
    t.record(50, 2.5, 1.0);
    assert!(close(t.seconds_left(50), 10.0 * 2.5));
    t.record(51, 1.5, 0.6);
    assert!(close(t.seconds_left(51), 9.0 * 1.5));
}

/// A run resumed inside the half-size phase predicts the rest as a fresh one does.
#[test]
fn a_run_resumed_at_half_size_still_predicts_the_full_size_steps() {
    let mut t = TimeLeft::new(60, Some(41), 4.0);
    t.record(30, 5.0, 1.0);
    t.record(31, 1.0, 0.2);
    // Steps 32..=40 at 1 s, 41..=60 at 1.6 s.
    assert!(
        close(t.seconds_left(31), 9.0 + 20.0 * 1.6),
        "{:?}",
        t.seconds_left(31)
    );
}
