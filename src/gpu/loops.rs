//! Which shaders may be compiled without wgpu's loop bounding.
//!
//! By default wgpu (naga) adds a counter to every loop of a shader, so that a loop that never
//! ends cannot let a backend compiler assume it unreachable. The counter costs a 64-bit
//! increment and compare per iteration; on lavapipe the convolution and GEMM kernels ran
//! 1.5–2.5× faster without it (tools/ and the note of issue 8). Bounds checks on buffer
//! accesses stay on either way: only the loop counter is dropped.
//!
//! Dropping it is `unsafe` ([`wgpu::ShaderRuntimeChecks::force_loop_bounding`]): every loop
//! of the shader must end. [`loops_end`] accepts a shader only when every loop in it has a
//! form that ends by construction, read from its text:
//!
//! - `for (var i = …; i < BOUND; i++)` or `i += STEP` with STEP a positive literal or an
//!   UPPER_CASE pipeline constant (tile sizes, workgroup sizes: the host checks each is
//!   positive before it builds a pipeline). The bounds are sizes the host checks to fit
//!   31 bits, and steps are small, so `i + STEP` never wraps past BOUND.
//! - `for (var d = …; d >= 0; d--)` (signed);
//! - `for (var h = …; h > 0u; h = h / 2u)`;
//! - the `while` loops of [`WHILE_LOOPS`], each read and argued for below.
//!
//! Any other loop form (or `loop {`) keeps the counter for the whole module, so a new shader
//! is never compiled unsafely by accident; a test below checks that every shader of the crate
//! qualifies, so none loses the speed silently either.

/// `while` loops that end, by their exact text (trimmed), with why:
/// - `half < WG`: `half` starts at 1 and doubles; WG is a workgroup size (at most 1024);
/// - `half > 0u`: `half` halves (`>>= 1u`) each iteration;
/// - `a < e`: a binary search; `m = (a + e) / 2` lies in `[a, e)` and either `a = m + 1` or
///   `e = m`, so `e - a` shrinks.
pub(crate) const WHILE_LOOPS: &[&str] = &[
    "while (half < WG) {",
    "while (half > 0u) {",
    "while (a < e) {",
];

/// Whether every loop of `wgsl` has one of the forms that end (module docs); `Err` names
/// the first line that does not.
pub(crate) fn loops_end(wgsl: &str) -> Result<(), String> {
    for (n, line) in wgsl.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("").trim();
        let ok = if code.starts_with("for (") || code.starts_with("for(") {
            for_ends(code)
        } else if code.starts_with("while") {
            WHILE_LOOPS.contains(&code)
        } else {
            !(code == "loop {" || code.starts_with("loop{") || code.starts_with("loop {"))
        };
        if !ok {
            return Err(format!("line {}: {code}", n + 1));
        }
    }
    Ok(())
}

/// A `for` header of one of the forms that end.
fn for_ends(code: &str) -> bool {
    let Some(inner) = code
        .strip_prefix("for")
        .map(str::trim_start)
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.strip_suffix('{'))
        .map(str::trim_end)
        .and_then(|s| s.strip_suffix(')'))
    else {
        return false;
    };
    let parts: Vec<&str> = inner.split(';').map(str::trim).collect();
    let [init, cond, step] = parts[..] else {
        return false;
    };
    let Some(var) = init
        .strip_prefix("var ")
        .and_then(|s| s.split('=').next())
        .map(|s| s.split(':').next().unwrap_or("").trim())
    else {
        return false;
    };
    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return false;
    }
    let cond_is = |op: &str| {
        cond.strip_prefix(var)
            .map(str::trim_start)
            .and_then(|s| s.strip_prefix(op))
            .is_some_and(|bound| {
                let mut names = bound.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                !bound.trim().is_empty() && !names.any(|n| n == var)
            })
    };
    let step_is = |s: &str| step.replace(' ', "") == s.replace(' ', "");
    // Counting up to a bound that does not move with the counter.
    if cond_is("<") && !cond_is("<=") {
        if step_is(&format!("{var}++")) {
            return true;
        }
        if let Some(by) = step.strip_prefix(var).map(str::trim_start) {
            if let Some(by) = by.strip_prefix("+=").map(str::trim) {
                return positive_literal(by) || pipeline_constant(by);
            }
        }
        return false;
    }
    // Counting a signed index down to 0.
    if cond.replace(' ', "") == format!("{var}>=0") {
        return step_is(&format!("{var}--"));
    }
    // Halving to 0.
    if cond.replace(' ', "") == format!("{var}>0u") {
        return step_is(&format!("{var}={var}/2u"));
    }
    false
}

fn positive_literal(s: &str) -> bool {
    let digits = s
        .strip_suffix('u')
        .or_else(|| s.strip_suffix('i'))
        .unwrap_or(s);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && digits != "0"
        && !digits.chars().all(|c| c == '0')
}

fn pipeline_constant(s: &str) -> bool {
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shader_of_the_crate_runs_without_loop_counters() {
        for (name, _) in crate::gpu::shaders::SHADERS {
            let src = crate::gpu::shaders::source(name).expect("expanded");
            assert_eq!(loops_end(&src), Ok(()), "shaders/{name}.wgsl");
        }
    }

    #[test]
    fn loop_forms_that_end_are_accepted_and_others_are_not() {
        for ok in [
            "for (var i = 0u; i < p.n; i++) {",
            "for (var k0 = 0u; k0 < p.k; k0 += TK) {",
            "for (var j = full; j < n; j += 8u) {",
            "for (var d = kept - 1; d >= 0; d--) {",
            "for (var half = RWG / 2u; half > 0u; half = half / 2u) {",
            "    while (a < e) { // a binary search",
            "let x = 1; // for (var i = 0; ; ) {",
        ] {
            assert_eq!(loops_end(ok), Ok(()), "{ok}");
        }
        for bad in [
            "for (var i = 0u; i <= p.n; i++) {",
            "for (var i = 0u; i < p.n; i += step) {",
            "for (var i = 0u; i < p.n; i += 0u) {",
            "for (var i = 0u; i < i + 1u; i++) {",
            "for (var i = 0u; i < p.n; i--) {",
            "for (var i = 0u; ; i++) {",
            "for (var d = 5; d >= 0; d++) {",
            "while (true) {",
            "loop {",
        ] {
            assert!(loops_end(bad).is_err(), "{bad}");
        }
    }
}
