# Sourced by scripts/test and scripts/check, from the repository's root: the virtual
# environment .venv, made when missing, with imgproc installed (editable) and the extras
# the caller needs.

ensure_venv() {  # extras, e.g. "test" or "dev"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q -e ".[$1]"
}
