# An empty file is zero records ("no samples", as a file of blank lines), not an unknown archive.
: > e.jsonl
$EXEC_PREFIX rouge-zh e.jsonl
