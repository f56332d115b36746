#!/bin/sh
# Seed a target's corpus (read_model, or the one named: fuzz/seed_corpus.sh prepare_model) with the test fixtures (run from anywhere): the demo models,
# round-trip, op, hostile and malformed files.
# fuzz/corpus is git-ignored; libFuzzer adds the inputs it finds there.
set -e
target="${1:-read_model}"  # the fuzz target whose corpus to seed
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$root/fuzz/corpus/$target"
for f in "$root"/tests/fixtures/*.tflite "$root"/tests/fixtures/roundtrip/*.tflite; do
    # Keep both copies of a fixture that exists in both folders.
    cp "$f" "$root/fuzz/corpus/$target/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# The op fixtures (every op and dtype the reader types) and the hostile corpus.
for d in ops hostile; do
    for f in "$root"/tests/fixtures/$d/*.tflite; do
        [ -f "$f" ] && cp "$f" "$root/fuzz/corpus/$target/$d-$(basename "$f")"
    done
done
if [ -d "$root/tests/fixtures/malformed" ]; then
    for f in "$root"/tests/fixtures/malformed/*; do
        [ -f "$f" ] && cp "$f" "$root/fuzz/corpus/$target/malformed-$(basename "$f")"
    done
fi
echo "seeded $(ls "$root/fuzz/corpus/$target" | wc -l) files into fuzz/corpus/$target"
