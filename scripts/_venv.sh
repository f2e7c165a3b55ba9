# shellcheck shell=bash
# Sourced by scripts/run and scripts/test: make or refresh a virtual environment.
# ensure_venv DIR EXTRAS [CONSTRAINTS] — reinstalls only when setup.cfg or the pins change.
ensure_venv() {
    local venv="$1" extras="$2" pins="${3:-}"
    local python="${PYTHON:-python3}"
    local stamp="$venv/.installed"
    local want
    # a pins file may include another (-r): the stamp covers those too
    local included=()
    if [ -n "$pins" ]; then
        mapfile -t included < <(sed -n 's|^-r  *|'"$(dirname "$pins")"'/|p' "$pins")
    fi
    want=$(cat setup.cfg pyproject.toml ${pins:+"$pins"} "${included[@]}" | sha256sum \
        | cut -c1-16)"-$extras"
    if [ ! -x "$venv/bin/python" ]; then
        echo "Creating $venv ..." >&2
        "$python" -m venv "$venv"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "Installing into $venv ..." >&2
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        if [ -n "$pins" ]; then
            "$venv/bin/python" -m pip install --quiet -r "$pins"
        fi
        "$venv/bin/python" -m pip install --quiet ${pins:+-c "$pins"} -e ".$extras"
        echo "$want" > "$stamp"
    fi
}
