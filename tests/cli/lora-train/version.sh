$EXEC_PREFIX lora-train --version
