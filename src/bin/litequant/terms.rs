//! The library's messages in the command line's words.

/// A library message in the command line's terms: the library names its options as the
/// library spells them (`keep_float`, `with_max_memory`); the CLI user knows the flags.
pub(crate) fn in_cli_terms(message: &str) -> String {
    const TERMS: [(&str, &str); 10] = [
        ("keep_float '", "--keep-float '"),
        ("(do not keep it float)", "(not --keep-float)"),
        ("with output type ", "with --output-type "),
        (
            "the same input and output types",
            "the same --input-type and --output-type",
        ),
        (
            "; mode int16x8 makes every op int16",
            "; --mode int16x8 makes every op int16",
        ),
        ("int16_ops '", "--int16-ops '"),
        ("the engine's with_max_memory", "--max-memory"),
        ("max_samples", "--max-samples"),
        (
            "calibrate this model and save its statistics",
            "calibrate this model and save its statistics (--calib DATA --save-stats FILE)",
        ),
        (
            "calibrate again and save the statistics anew",
            "calibrate again and save the statistics anew (--save-stats FILE)",
        ),
    ];
    TERMS
        .iter()
        .fold(message.to_string(), |m, (lib, cli)| m.replace(lib, cli))
}
