# -o is a symbolic link to a directory (issue 23's data loss): a directory that is not a previous
# output is refused (73) and left as it was, the link too; a link to an empty directory is
# written through (the files land behind it, the link stays), and a second run replaces them.
mkdir -p t/s; echo x > t/k; ln -s t l
$EXEC_PREFIX import-gguf -q -o l "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf"
echo "exit $?"
find t | sort; cat t/k; ls
mkdir e; ln -s e le
$EXEC_PREFIX import-gguf -q -o le "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf" || exit 1
$EXEC_PREFIX import-gguf -q -o le "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf" || exit 1
test -L le && ls && ls e
