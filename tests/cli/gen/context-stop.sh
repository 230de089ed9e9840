# A row stops when prompt + new tokens fill the context (64): 31 + 33.
echo "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" | $EXEC_PREFIX gen -q -m "$QT_TEST_SRCDIR/data/gen/tiny" --max-new-tokens 100 | sed "s/.*\"prompt_tokens\"/\"prompt_tokens\"/"
