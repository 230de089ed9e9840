# -m is required: exit 64.
echo "{}" | $EXEC_PREFIX gen
