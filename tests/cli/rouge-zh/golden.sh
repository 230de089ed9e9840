# The 2,500 reference pairs: equal to tests/ref/rouge_golden.py output (jieba + rouge_chinese
# + nltk + np.mean), number for number, on 2 threads and on 1.
$EXEC_PREFIX rouge-zh --threads 2 "$QT_TEST_SRCDIR/data/rouge_pairs.jsonl" > a.json || exit 1
$EXEC_PREFIX rouge-zh --threads 1 "$QT_TEST_SRCDIR/data/rouge_pairs.jsonl" > b.json || exit 1
cmp a.json "$QT_TEST_SRCDIR/data/rouge_golden.json" && cmp b.json a.json
