# The 2,500 reference pairs: equal to tests/ref/rouge_golden.py output (jieba + rouge_chinese
# + nltk + np.mean), number for number: on 2 threads building the dictionary cache, then on 1
# thread reading it, then with the cache off.
export QT_JIEBA_CACHE="$PWD/cache"
$EXEC_PREFIX rouge-zh --threads 2 "$QT_TEST_SRCDIR/data/rouge_pairs.jsonl" > a.json || exit 1
ls cache/jieba-*.bin > /dev/null || exit 1
$EXEC_PREFIX rouge-zh --threads 1 "$QT_TEST_SRCDIR/data/rouge_pairs.jsonl" > b.json || exit 1
QT_JIEBA_CACHE=off $EXEC_PREFIX rouge-zh "$QT_TEST_SRCDIR/data/rouge_pairs.jsonl" > c.json || exit 1
cmp a.json "$QT_TEST_SRCDIR/data/rouge_golden.json" && cmp b.json a.json && cmp c.json a.json
