# Counting for the shell test suites: source it, and every check goes through it.
#
#   pass DESCRIPTION          a check that passed
#   fail DESCRIPTION          a check that failed
#   skip KEY DESCRIPTION      a check that could not run here. It counts as skipped only when
#                             KEY is listed, with its reason, in scripts/skips-allowed.txt;
#                             an unlisted skip counts as a failure.
#   run DESCRIPTION CMD...    passes when CMD exits 0 (its output is shown when it fails)
#   tally FILE                counts the lines a helper (python, a sub-shell) printed:
#                             "ok   DESC" -> pass, "FAIL DESC" -> fail, "skip KEY DESC" -> skip;
#                             other lines are echoed. Helpers print these lines and never count
#                             themselves, so a check is counted once, here.
#   summary                   the closing line "N passed, M failed, K skipped" (scripts/test.sh
#                             sums these lines up); returns non-zero when anything failed.
passed=0
failed=0
skipped=0
SKIPS_ALLOWED=${SKIPS_ALLOWED:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/skips-allowed.txt}

pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() {
  local key=$1
  shift
  if grep -qE "^${key}[[:space:]]" "$SKIPS_ALLOWED" 2>/dev/null; then
    skipped=$((skipped + 1))
    echo "skip $key $*"
  else
    fail "skipped, and $key is not in ${SKIPS_ALLOWED##*/scripts/}: $*"
  fi
}

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

tally() {
  local line rest
  while IFS= read -r line; do
    case $line in
      "ok   "*) pass "${line#ok   }" ;;
      "FAIL "*) fail "${line#FAIL }" ;;
      "skip "*)
        rest=${line#skip }
        skip "${rest%% *}" "${rest#* }"
        ;;
      *) echo "$line" ;;
    esac
  done <"$1"
}

summary() {
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
}
