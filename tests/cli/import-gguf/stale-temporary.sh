# A run killed with kill -9 left model.tmp.PID/ (PID no longer running): the next run removes it.
# A temporary of a running process (this shell's) stays.
dead=$(sh -c 'echo $$')
mkdir model.tmp.$dead model.tmp.$$
echo x > model.tmp.$dead/model.safetensors
$EXEC_PREFIX import-gguf -q -o model "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf" || exit 1
ls | sed "s/\.$$\$/.SHELL/"
