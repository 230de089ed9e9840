$EXEC_PREFIX lora-train -m m --train x.pack -o out --rank 0
