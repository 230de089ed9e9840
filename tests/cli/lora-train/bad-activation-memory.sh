# --activation-memory takes a size (digits, K/M/G/T) or auto; anything else is a usage error.
$EXEC_PREFIX lora-train -m m --train x.pack -o out --activation-memory 2X
