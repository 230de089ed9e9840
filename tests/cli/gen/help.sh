# --help: full usage on stdout, exit 0.
$EXEC_PREFIX gen --help
