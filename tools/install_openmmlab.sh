#!/usr/bin/env bash
# Install the OpenMMLab stack that the mm-based plugins (damo_yolo, semicd_vl) stand on:
# mmcv 2.1.0 WITH compiled ops, mmdet 3.3.0, mmsegmentation 1.2.2, pycocotools, ftfy, regex.
#
#   tools/install_openmmlab.sh [VENV]        # default ./.venv; idempotent, second run takes seconds
#
# Environment: FW_WHEEL_CACHE (default ~/.cache/fw/wheels), MAX_JOBS (compile jobs, default: nproc),
#              FW_OPENMMLAB_FORCE=1 (ignore the stamp and redo the install + checks).
#
# Why it looks like this:
# * PyPI has no binary mmcv 2.1.0 for torch 2.13 / cp311, only the source release, and mmcv 2.2 fails
#   the version asserts of mmdet 3.3 and mmseg 1.2; mmcv-lite lacks mmcv._ext, which mmdet's dense
#   heads (batched_nms) and mmseg's losses import. So mmcv 2.1.0 is compiled once per machine (77 C++
#   units, ~56 CPU-minutes) with MMCV_WITH_OPS=1 FORCE_CUDA=0 against the venv's torch, and the wheel
#   is kept OUTSIDE the repo in $FW_WHEEL_CACHE/mmcv-<v>_torch-<v>_<py>_<platform>/ with a meta file
#   that records the torch it was built against. pip's own wheel cache is not enough: it keys by
#   source URL and interpreter, not by torch, and would reinstall an ABI-incompatible _ext.
# * --no-build-isolation: mmcv's setup.py imports torch (to choose the extension type) and
#   pkg_resources; an isolated build gets neither torch nor a setuptools that still has pkg_resources.
# * setuptools<81: setuptools 81 removed pkg_resources, which mmcv's setup.py and mmengine 0.10.7 at
#   run time (mmengine.utils.package_utils: `mmdet::` config bases, is_installed) still import.
# * mmcv is installed BEFORE mmdet/mmseg: they list mmcv only under their `mim` extra, and a later
#   resolver pass must find mmcv satisfied rather than try to build it in isolation (which fails).
# * NumPy: numpy 2.x is allowed. The mmengine/mmcv/mmdet/mmseg code these plugins use has no name
#   removed in NumPy 2, pycocotools >= 2.0.8 ships NumPy-2 wheels, and the end-to-end tests
#   (tests/test_openmmlab_mmdet.py, tests/test_openmmlab_mmseg.py) train and evaluate with CocoMetric
#   and IoUMetric under numpy 2.4.6. numpy<3 caps the untested next major.
# * OpenCV: mmengine asks for opencv-python>=3, which resolves to OpenCV 5; the transforms used by the
#   tests (imdecode, resize, pad, flip, photometric) run under 5.0.0.93. <6 caps the untested next major.
# * torch is never upgraded here: an unpinned torch makes pip fetch a multi-GB CUDA build.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${1:-./.venv}
if [ ! -x "$VENV/bin/python" ]; then
    echo "install_openmmlab: no Python at $VENV/bin/python; create the venv first or pass its path" >&2
    exit 2
fi
VENV=$(cd "$VENV" && pwd)
PY="$VENV/bin/python"
PIP=("$PY" -m pip)
HELPER="$ROOT/tools/openmmlab_stack.py"   # stdlib-only until a check runs (python -I)
NICE=(nice -n "${FW_NICE:-10}")

MMCV_VERSION=2.1.0
TORCH_PIN=2.13.0                          # local CPU wheel; only installed when torch is absent
PINS=(
    "mmdet==3.3.0"
    "mmsegmentation==1.2.2"
    "mmengine>=0.10.7,<1.0"
    "pycocotools>=2.0.8"
    "ftfy>=6"                             # mmseg.models imports them but does not declare them
    "regex"
    "numpy>=1.26.4,<3"
    "opencv-python>=4.8,<6"
    "setuptools>=64,<81"
)
BUILD_TOOLS=("setuptools>=64,<81" wheel ninja)

LOGFILE="$VENV/fw-openmmlab.log"
STAMP="$VENV/fw-openmmlab.json"
T0=$SECONDS
log() { printf '[install_openmmlab %5ss] %s\n' "$((SECONDS - T0))" "$*" | tee -a "$LOGFILE"; }
hms() { printf '%dm%02ds' "$(($1 / 60))" "$(($1 % 60))"; }

# ---------------------------------------------------------------------------------------------- torch
if ! "$PY" -I -c 'import importlib.metadata as m; m.version("torch")' 2>/dev/null; then
    log "torch is missing: pip install torch==$TORCH_PIN (the local CPU wheel)"
    "${NICE[@]}" "${PIP[@]}" install "torch==$TORCH_PIN"
fi
KEY=$("$PY" -I "$HELPER" key)
CACHE=${FW_WHEEL_CACHE:-$HOME/.cache/fw/wheels}
DIR="$CACHE/$KEY"
META="$DIR/fw-build-meta.json"
SPEC="$KEY ${PINS[*]}"

# ---------------------------------------------------------------------------------------------- stamp
# A good install writes $STAMP with $SPEC; if it matches and the packages are still installed at
# those versions, there is nothing to do (no torch import: well under a second).
if [ -z "${FW_OPENMMLAB_FORCE:-}" ] && [ -f "$STAMP" ] && "$PY" -I - "$STAMP" "$SPEC" <<'EOF'
import importlib.metadata as m, json, sys
try:
    stamp = json.load(open(sys.argv[1]))
    ok = stamp.get('spec') == sys.argv[2] and all(
        m.version(d) == v for d, v in stamp.get('installed', {}).items())
except Exception:  # unreadable stamp, a package uninstalled since: redo the install
    ok = False
sys.exit(0 if ok else 1)
EOF
then
    echo "install_openmmlab: OpenMMLab stack already installed in $VENV ($KEY); nothing to do" \
         "(FW_OPENMMLAB_FORCE=1 to redo)"
    exit 0
fi

log "venv $VENV; mmcv wheel cache $DIR"
mkdir -p "$DIR"

# One set-up at a time per cache folder: a second one waits instead of compiling the same wheel.
exec 9>"$CACHE/.$KEY.lock"
if ! flock -n 9; then
    log "another install_openmmlab holds $CACHE/.$KEY.lock (building or installing); waiting"
    flock 9
fi
# A build started by hand into the same folder (pip wheel ... mmcv==2.1.0 -w $DIR) is waited for too.
waited=0
while pgrep -af 'pip wheel' | grep -F "mmcv==$MMCV_VERSION" | grep -qF -- "$DIR"; do
    [ $((waited % 10)) -eq 0 ] && log "a pip wheel build of mmcv $MMCV_VERSION into $DIR is" \
        "running (started by hand); waiting for it, ${waited} min so far"
    sleep 60; waited=$((waited + 1))
done

# ---------------------------------------------------------------------------------------------- build
find_wheel() { compgen -G "$DIR/mmcv-$MMCV_VERSION-*.whl" | head -n 1 || true; }

progress() {  # stdin: pip -v output; keep it all in $1, show the ninja unit counter and an estimate
    local line n total src start=$SECONDS el left
    tee -a "$1" | while IFS= read -r line; do
        if [[ $line =~ \[([0-9]+)/([0-9]+)\] ]]; then
            n=${BASH_REMATCH[1]}; total=${BASH_REMATCH[2]}
            src=$([[ $line =~ ([^ /]+\.(cpp|cu|cc))\ -o ]] && echo "${BASH_REMATCH[1]}" || echo '')
            el=$((SECONDS - start)); left=$((n > 0 ? el * (total - n) / n : 0))
            printf '  mmcv build [%s/%s] %-36s elapsed %s, about %s left\n' \
                "$n" "$total" "$src" "$(hms "$el")" "$(hms "$left")"
        elif [[ $line == *'Compiling mmcv._ext'* ]]; then
            printf '  %s\n' "${line#"${line%%[! ]*}"}"
        elif [[ $line == *' -shared '* ]]; then
            printf '  mmcv build: linking mmcv/_ext (elapsed %s)\n' "$(hms $((SECONDS - start)))"
        fi
    done
}

build_mmcv() {
    local tmp="$DIR/.build.$$" blog="$DIR/build.log" jobs=${MAX_JOBS:-$(nproc)} start=$SECONDS rc
    log "installing build tools into the venv: ${BUILD_TOOLS[*]}"
    "${NICE[@]}" "${PIP[@]}" install -q "${BUILD_TOOLS[@]}"
    cat <<EOF | tee -a "$LOGFILE"
================================================================================================
 Building mmcv $MMCV_VERSION with compiled CPU ops: first set-up on this machine only.
 77 C++ units, about 56 CPU-minutes: ~30 min on 2 idle cores, hours when other jobs share the
 cores (seen: 17 units in 36 min at load 13 on 2 cores). $(nproc) cores here, MAX_JOBS=$jobs,
 load now: $(cut -d' ' -f1-3 /proc/loadavg).
 Progress is printed per unit below; the full compiler log goes to $blog.
 The wheel (~32 MB) is kept in $DIR and reused by every later set-up.
================================================================================================
EOF
    rm -rf "$tmp"; : >"$blog"
    set +e
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$jobs "${NICE[@]}" "${PIP[@]}" wheel --no-build-isolation \
        --no-deps -v "mmcv==$MMCV_VERSION" -w "$tmp" 2>&1 | progress "$blog"
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ] || ! compgen -G "$tmp/mmcv-$MMCV_VERSION-*.whl" >/dev/null; then
        tail -n 40 "$blog" >&2
        log "mmcv build FAILED (exit $rc) after $(hms $((SECONDS - start))); full log: $blog"
        rm -rf "$tmp"
        exit 1
    fi
    grep -q 'Compiling mmcv._ext only with CPU' "$blog" && log "build log: mmcv._ext compiled for CPU only"
    mv "$tmp"/mmcv-"$MMCV_VERSION"-*.whl "$DIR"/ && rm -rf "$tmp"
    BUILD_SECONDS=$((SECONDS - start))
    log "mmcv wheel built in $(hms "$BUILD_SECONDS"): $(find_wheel) ($(du -h "$(find_wheel)" | cut -f1))"
    rm -f "$META"
}

write_meta() {  # the torch this wheel belongs to, next to the wheel
    local wheel=$1 note=$2
    "$PY" -I - "$META" "$wheel" "$note" "${BUILD_SECONDS:-}" <<'EOF'
import hashlib, json, platform, sys, sysconfig, time, importlib.metadata as m
meta, wheel, note, secs = sys.argv[1:5]
record = {'mmcv': m.version('mmcv'), 'torch': m.version('torch'),
          'python': platform.python_version(), 'platform': sysconfig.get_platform(),
          'wheel': wheel.rsplit('/', 1)[-1], 'bytes': __import__('os').path.getsize(wheel),
          'sha256': hashlib.sha256(open(wheel, 'rb').read()).hexdigest(),
          'build_seconds': int(secs) if secs else None, 'note': note,
          'written': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
json.dump(record, open(meta, 'w'), indent=1)
EOF
}

check() {  # mmcv version, mmcv._ext, nms/batched_nms on hand boxes, torch match; mmdet/mmseg imports
    local meta_arg=()
    [ -f "$META" ] && meta_arg=(--meta "$META")
    "$PY" -I "$HELPER" check --toolkits "${meta_arg[@]}"
}

BUILD_SECONDS=
T_BUILD=0
WHEEL=$(find_wheel)
if [ -z "$WHEEL" ]; then
    t=$SECONDS; build_mmcv; T_BUILD=$((SECONDS - t)); WHEEL=$(find_wheel)
else
    log "using cached mmcv wheel $WHEEL ($(du -h "$WHEEL" | cut -f1))"
fi

# ---------------------------------------------------------------------------------------------- install
t=$SECONDS
if "$PY" -I -c 'import importlib.metadata as m; m.version("mmcv-lite")' 2>/dev/null; then
    log "removing mmcv-lite (it owns the same 'mmcv' import package and has no compiled ops)"
    "${PIP[@]}" uninstall -y mmcv-lite
fi
log "pip install $(basename "$WHEEL") ${PINS[*]}"
set +e
"${NICE[@]}" "${PIP[@]}" install "$WHEEL" "${PINS[@]}" 2>&1 | grep -vE '^(Requirement already satisfied| *WARNING: Location)'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || { log "pip install failed (exit $rc)"; exit 1; }
T_INSTALL=$((SECONDS - t))

# ---------------------------------------------------------------------------------------------- check
t=$SECONDS
log "post-install check"
if ! check; then
    log "check failed: reinstalling mmcv from the cached wheel"
    "${PIP[@]}" install --no-deps --force-reinstall "$WHEEL" >/dev/null
    if ! check; then
        if [ -n "$BUILD_SECONDS" ]; then
            log "the freshly built wheel fails its check; see $DIR/build.log"; exit 1
        fi
        log "cached wheel is broken: moving it aside and rebuilding"
        mv "$WHEEL" "$WHEEL.bad"; rm -f "$META"
        t2=$SECONDS; build_mmcv; T_BUILD=$((SECONDS - t2)); WHEEL=$(find_wheel)
        "${PIP[@]}" install --no-deps --force-reinstall "$WHEEL" >/dev/null
        check || { log "rebuilt mmcv still fails its check"; exit 1; }
    fi
fi
# pip check must be clean for the stack (other plugins' unrelated complaints are not ours to fix)
if bad=$("${PIP[@]}" check 2>&1 | grep -iE '^(mmcv|mmdet|mmsegmentation|mmengine|pycocotools|mmcv-lite) '); then
    log "pip check reports problems in the OpenMMLab stack:"; echo "$bad" >&2; exit 1
fi
T_CHECK=$((SECONDS - t))

[ -f "$META" ] || write_meta "$WHEEL" "$([ -n "$BUILD_SECONDS" ] && echo 'built by tools/install_openmmlab.sh' \
    || echo 'wheel found in the cache without meta; recorded after its ops check passed')"
"$PY" -I - "$STAMP" "$SPEC" "$META" <<'EOF'
import importlib.metadata as m, json, sys, time
stamp, spec, meta = sys.argv[1:4]
dists = ['mmcv', 'mmdet', 'mmsegmentation', 'mmengine', 'pycocotools', 'numpy', 'opencv-python',
         'setuptools', 'torch']
json.dump({'spec': spec, 'torch': m.version('torch'), 'wheel_meta': meta,
           'installed': {d: m.version(d) for d in dists},
           'written': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, open(stamp, 'w'), indent=1)
EOF
log "done in $(hms $((SECONDS - T0))) (mmcv build $(hms "$T_BUILD"), pip install $(hms "$T_INSTALL")," \
    "checks $(hms "$T_CHECK")); stamp $STAMP"
