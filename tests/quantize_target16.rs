//! The target search moves ops to int16 first (`litequant::quant::target`, int16 moves on by
//! default): on the digits CNN fixture, int8 misses 50 dB and int16 moves alone meet it (no
//! op goes float); 55 dB needs a float move, and every float move is one int16 does not
//! fix. Each result is checked independently: the moves re-applied through
//! `QuantizeOptions::{int16_ops, keep_float}` give the same bytes and an error that meets
//! the target, and no move can be dropped.

mod target_common;

use litequant::data::InMemory;
use litequant::quant::quantize;
use litequant::quant::target::{MovedOp, Precision, Target, TargetOptions};
use litequant::{Model, Stats};
use target_common::{options, search, setup, worst_rel};

fn as_moves(moved: &[MovedOp]) -> Vec<(String, Precision)> {
    moved.iter().map(|m| (m.tensor.clone(), m.to)).collect()
}

/// Checks common to both searches: met (independently), the same model, minimal.
fn check_result(
    m: &Model,
    stats: &Stats,
    held: &InMemory,
    q: &Model,
    moved: &[MovedOp],
    target: f64,
) {
    let moves = as_moves(moved);
    let got = worst_rel(m, stats, held, &moves);
    assert!(got <= target, "{got} > {target}");
    let expected = quantize(m, Some(stats), &options(&moves)).unwrap().0;
    assert_eq!(q.to_bytes().unwrap(), expected.to_bytes().unwrap());
    for i in 0..moves.len() {
        let mut fewer = moves.clone();
        let dropped = fewer.remove(i);
        let e = worst_rel(m, stats, held, &fewer);
        assert!(e > target, "{dropped:?} was not needed: {e} <= {target}");
    }
}

#[test]
fn int16_moves_alone_meet_a_target_int8_misses() {
    let (m, stats, held) = setup();
    let target = Target::SqnrDb(50.0);
    let bound = 10f64.powf(-50.0 / 20.0);
    assert!(
        worst_rel(&m, &stats, &held, &[]) > bound,
        "int8 already meets it"
    );
    let topts = TargetOptions::new(target);
    let (q, report, r) = search(&m, &stats, &held, &topts).unwrap();
    assert!(!r.moved.is_empty());
    assert!(
        r.moved.iter().all(|x| x.to == Precision::Int16),
        "a float move: {:?}",
        r.moved
    );
    assert!(
        r.all_float.is_none(),
        "int16 alone met it: no all-float probe"
    );
    assert!(r.after.worst_rel_rmse <= bound);
    assert_eq!(report.int16_ops.len(), r.moved.len());
    assert!(report.float_ops.is_empty());
    check_result(&m, &stats, &held, &q, &r.moved, bound);
    assert!(r.probes <= topts.max_probes);
}

#[test]
fn a_float_move_is_one_int16_does_not_fix() {
    let (m, stats, held) = setup();
    let bound = 10f64.powf(-55.0 / 20.0);
    let topts = TargetOptions::new(Target::SqnrDb(55.0));
    let (q, _, r) = search(&m, &stats, &held, &topts).unwrap();
    let all16 = r.all_int16.as_ref().expect("int16 tried first");
    assert!(
        all16.worst_rel_rmse > bound,
        "every candidate on int16 meets it"
    );
    let floats: Vec<usize> = (0..r.moved.len())
        .filter(|&i| r.moved[i].to == Precision::Float)
        .collect();
    assert!(!floats.is_empty());
    check_result(&m, &stats, &held, &q, &r.moved, bound);
    // Each float move on int16 instead misses the target.
    let moves = as_moves(&r.moved);
    for &i in &floats {
        let mut lower = moves.clone();
        lower[i].1 = Precision::Int16;
        let e = worst_rel(&m, &stats, &held, &lower);
        assert!(e > bound, "{:?} would do on int16: {e}", moves[i]);
    }
}

#[test]
fn float_only_search_is_still_available() {
    let (m, stats, held) = setup();
    let topts = TargetOptions {
        int16: false,
        ..TargetOptions::new(Target::SqnrDb(50.0))
    };
    let (_, _, r) = search(&m, &stats, &held, &topts).unwrap();
    assert!(!r.moved.is_empty());
    assert!(r.moved.iter().all(|x| x.to == Precision::Float));
    assert_eq!(r.int16_candidates, 0);
}
