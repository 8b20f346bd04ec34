# Shared by the shell test scripts (source it): counters, one-line results and the closing
# "N passed, M failed" line that scripts/test.sh sums up.
passed=0
failed=0
skipped=0

pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() { skipped=$((skipped + 1)); echo "skip $*"; }

# run DESCRIPTION COMMAND...: one test that passes when the command exits 0; its output is shown
# only when it fails.
run() {
  local desc=$1 out
  shift
  if out=$("$@" 2>&1); then
    pass "$desc"
  else
    fail "$desc"
    sed 's/^/     /' <<<"$out"
  fi
}

# summary: the closing line; fails when any test failed.
summary() {
  if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
  else
    echo "$passed passed, $failed failed"
  fi
  [ "$failed" -eq 0 ]
}
