{ printf "GGUF\001\000\000\000"; tail -c +9 "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf"; } > bad.gguf
$EXEC_PREFIX import-gguf -o out bad.gguf
rc=$?
[ -e out ] && echo "output left behind"
ls | grep -q '\.tmp\.' && echo "temporary left behind"
exit $rc
