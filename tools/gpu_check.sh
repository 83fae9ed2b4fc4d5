#!/usr/bin/env bash
# Every notebook of the book on a GPU through Keras on JAX, for a machine that has JAX and a
# GPU but no TensorFlow (its wheel is too large to carry there). Run from the book root:
#
#   bash tools/gpu_check.sh [WHEELS_DIR]
#
# WHEELS_DIR (default .whl) holds wheels to install on top of the machine's JAX, made on a
# machine with pip and the network: keras and the book's small pure-Python dependencies
# that the GPU machine lacks, e.g.
#   pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl \
#     keras namex optree ml-dtypes absl-py rich h5py papermill jupytext nbformat nbclient \
#     myst-nb ipykernel POT ...
# On a CPU-only machine set JAX_PLATFORMS=cpu to try the script itself. It writes a report
# (device, per-notebook wall time, claims as expected) to $REPORT, default
# $OUT/gpu_report.md when OUT is set, else _build/gpu_report.md, and the runs to
# book/runs.json under the label "jax-gpu" (or "jax", as make test-jax, on a CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=${1:-.whl}
if compgen -G "$wheels/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site \
        "$wheels"/*.whl
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export KERAS_BACKEND=jax TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
platform=$(python3 -c 'import jax; print(jax.devices()[0].platform)')
device=$(python3 -c 'import jax; d = jax.devices()[0]; print(f"{d.platform} {d.device_kind}")')
label=$([ "$platform" = gpu ] && echo jax-gpu || echo jax)
report=${REPORT:-${OUT:-_build}/gpu_report.md}
mkdir -p "$(dirname "$report")"
write_report() {
    echo "# The book on JAX: $device"
    echo
    python3 -c 'import jax, keras; print(f"jax {jax.__version__}, keras {keras.__version__}")'
    echo
    echo '```'
    local status=0
    python3 tools/backend.py --backend jax --without-tensorflow --label "$label" || status=$?
    echo '```'
    return "$status"
}
write_report 2>&1 | tee "$report"
