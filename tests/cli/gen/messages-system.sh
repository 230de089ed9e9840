# {"messages"} records: a trailing assistant turn becomes the labels; --system replaces the
# default system prompt (fewer prompt tokens); plain ChatML (--template chatml) has none.
echo "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"}]}" > p.jsonl
for s in default custom none; do
	case $s in
	default) $EXEC_PREFIX gen -q -m "$QT_TEST_SRCDIR/data/gen/tiny" --max-new-tokens 2 p.jsonl ;;
	custom) $EXEC_PREFIX gen -q -m "$QT_TEST_SRCDIR/data/gen/tiny" --max-new-tokens 2 --system "Be brief." p.jsonl ;;
	none) $EXEC_PREFIX gen -q -m "$QT_TEST_SRCDIR/data/gen/tiny" --max-new-tokens 2 --template chatml p.jsonl ;;
	esac || exit 1
done
