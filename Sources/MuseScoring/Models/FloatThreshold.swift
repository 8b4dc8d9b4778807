/// XGBoost converts each feature to `Float` and goes left when
/// `Float(x) < t`. This returns the double `T` with `Float(x) < t  ⇔  x <= T`
/// for every non-NaN double `x`, so XGBoost splits run on the same double
/// comparison as LightGBM's without converting the event's features.
///
/// `Float(x)` rounds to nearest, ties to even. The doubles that round below
/// `t` are those under the midpoint `m` between `t` and the float before it,
/// plus `m` itself when the tie goes to that lower float (its significand is
/// even, i.e. `t`'s is odd). `t` must not be NaN or -infinity.
public func doubleThreshold(forFloatLessThan t: Float) -> Double {
    let t = t == 0 ? Float(0) : t  // -0 compares like +0
    let below = t.nextDown
    let midpoint: Double
    if below == -.infinity {
        // t is -greatestFiniteMagnitude: doubles round to -inf past half an ulp beyond it.
        midpoint = Double(t) - Double(t.ulp) / 2
    } else if t == .infinity {
        // Doubles round to +inf from half an ulp beyond the largest float.
        midpoint = Double(below) + Double(below.ulp) / 2
    } else {
        midpoint = (Double(below) + Double(t)) / 2  // exact: adjacent floats fit in a double
    }
    let tieGoesDown = t.bitPattern & 1 == 1
    return tieGoesDown ? midpoint : midpoint.nextDown
}
