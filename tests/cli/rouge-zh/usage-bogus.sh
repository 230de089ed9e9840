# Unknown option: the usage on stderr, exit 64.
$EXEC_PREFIX rouge-zh --bogus
