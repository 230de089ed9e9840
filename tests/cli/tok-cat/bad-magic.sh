printf 'not a tok stream at all, but long enough to hold a whole header.....' > x.tok
$EXEC_PREFIX tok-cat x.tok
