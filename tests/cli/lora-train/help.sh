$EXEC_PREFIX lora-train --help
