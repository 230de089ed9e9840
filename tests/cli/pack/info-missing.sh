$EXEC_PREFIX pack --info nonexistent.pack
