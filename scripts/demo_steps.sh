# Sourced by the demo scripts: numbered steps that print their command
# before running it, and the check that the binary is built.
# Needs QUANTA and DEMO (the demo's name, for messages) set.
step=0
step() {
    step=$((step + 1))
    printf '\n==> step %d: %s\n' "$step" "$1"
    shift
    printf '    $ %s\n\n' "$*"
    "$@"
}

if [ ! -x "$QUANTA" ]; then
    echo "$DEMO: $QUANTA is not built; run 'make' first" >&2
    exit 1
fi
