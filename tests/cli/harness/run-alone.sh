# One CLI case runs alone, without tests/run.sh's variables (issue 14: it failed with
# "pack: not found"), and tests/run.sh runs only the paths it is given (make check T=...).
set -eu
top=$(dirname "$QT_TEST_SRCDIR")
cd "$top"
bin=${QT_BIN#"$top"/}
env -u QT_BIN -u QT_TEST_SRCDIR -u QT_MODEL_DIR PATH=/usr/bin:/bin \
  sh tests/cli/run-case.sh tests/cli/pack/basic.sh
echo "alone: $?"
n=$(find tests/cli/tok-cat -name '*.sh' ! -name lib.sh | wc -l)
got=$(sh tests/run.sh "$bin" build tests/cli/pack/basic.sh tests/cli/tok-cat/ | tail -n 1)
[ "$got" = "$((n + 1)) passed, 0 failed" ] && echo "paths: the case and the folder's cases, all passed"
sh tests/run.sh "$bin" build tests/cli/no-such-case.sh 2>&1 || echo "exit $?"
