# A prefix adapter's projection MLP (prefix_encoder.safetensors, lora-train
# --prefix-projection) is read with the adapter and refused when it does not belong (exit 65
# naming the file): beside a config whose prefix_projection is false, of another hidden size
# than encoder_hidden_size, or with a tensor of another shape (llama-bias's MLP); --info counts
# the MLP's parameters when it is there.
D="$QT_TEST_SRCDIR/data/prefix/train-init-proj"
$EXEC_PREFIX lora-merge --info "$D" | grep '^parameters'
info() { $EXEC_PREFIX lora-merge --info "$1" >/dev/null 2>err; echo "exit $?"; sed 's|.*/\([a-z]*/prefix_encoder\)|\1|' err; }
cp -R "$D" off && sed -i 's/"prefix_projection": true/"prefix_projection": false/' off/adapter_config.json
info off
cp -R "$D" hid && sed -i 's/"encoder_hidden_size": 16/"encoder_hidden_size": 12/' hid/adapter_config.json
info hid
cp -R "$D" other && cp "$QT_TEST_SRCDIR/data/prefix/llama-bias-proj/prefix_encoder.safetensors" other/
sed -i 's/"encoder_hidden_size": 16/"encoder_hidden_size": 24/' other/adapter_config.json
info other
